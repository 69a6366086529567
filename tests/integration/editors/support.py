"""What the editor tests share: the documented setups, an editor's environment, the event stream.

The setups under ``editors/`` are the files docs/editors.md shows (tests/unit/test_editors_doc.py
checks that), and these tests run them as written, in real editors, against a real daemon.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from reloadd.client import Client, Crash, ServerState
from reloadd.protocol.limits import MAX_QUEUED_EVENTS_PER_SUBSCRIBER
from tests.integration.helpers import NOTIFY_TIMEOUT

EDITORS = Path(__file__).resolve().parents[3] / "editors"
"""The setups docs/editors.md shows, one file each."""

BIN = Path(sys.executable).parent
"""Where the ``reloadd`` console script of this environment is."""

EDITOR_TIMEOUT = 20.0
"""Seconds an editor may take to start, answer, or stop (a cold start on a busy machine)."""

STOP_TIMEOUT = 10.0

Event = dict[str, Any]


def editor_environment(home: Path) -> dict[str, str]:
    """The environment an editor runs in: ``reloadd`` on PATH, and none of the user's files.

    The test's own runtime folder (``XDG_RUNTIME_DIR``) stays, so that ``reloadd`` finds
    the test's daemon, as a user's editor finds theirs.
    """
    env = dict(os.environ)
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    env["HOME"] = str(home)
    for name in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME"):
        env[name] = str(home / name.lower())
    env.pop("VIMINIT", None)
    env.pop("MYVIMRC", None)
    return env


def wait_for(
    read: Callable[[], object], expected: object, what: str, timeout: float = NOTIFY_TIMEOUT
) -> None:
    """Poll ``read()`` until it returns ``expected``; fail with the last value at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        value = read()
        if value == expected:
            return
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: {value!r} after {timeout} s, expected {expected!r}")
        time.sleep(0.02)


def stop_pid(pid: int) -> None:
    """SIGTERM a process that is not our child (a job an editor started), if it still runs."""
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + STOP_TIMEOUT
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.02)
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def stop_process(process: subprocess.Popen[Any]) -> None:
    """Wait for ``process`` to exit; SIGTERM, then SIGKILL it, if it does not in time."""
    try:
        process.wait(STOP_TIMEOUT)
        return
    except subprocess.TimeoutExpired:
        process.terminate()
    try:
        process.wait(STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(STOP_TIMEOUT)


class EventStream:
    """A ``reloadd events --json`` process, its lines parsed as they come."""

    def __init__(self, root: Path, log: Path) -> None:
        """Start following the events of ``root``'s daemon."""
        with open(log, "ab") as errors:
            self.process = subprocess.Popen(
                [str(BIN / "reloadd"), "events", "--json", "--root", str(root)],
                stdout=subprocess.PIPE,
                stderr=errors,
                stdin=subprocess.DEVNULL,
                text=True,
            )
        self.log = log
        self.seen: list[Event] = []
        self._unclaimed: list[Event] = []
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._lines.put(line)
        self._lines.put(None)

    def expect(self, what: str, matches: Callable[[Event], bool]) -> Event:
        """The first event not yet expected that ``matches``, in any order; fail if none comes.

        Order is not checked: the watcher and an editor's report of the same save race,
        so ``changed`` may come before or after ``saved``.
        """
        for earlier in self._unclaimed:
            if matches(earlier):
                self._unclaimed.remove(earlier)
                return earlier
        deadline = time.monotonic() + NOTIFY_TIMEOUT
        while True:
            try:
                line = self._lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                line = None
            if line is None:
                pytest.fail(f"no {what} event: saw {self.seen}; {self.log.read_text()}")
            event: Event = json.loads(line)
            self.seen.append(event)
            if matches(event):
                return event
            self._unclaimed.append(event)

    def stop(self) -> None:
        """Interrupt it, as a user does, and wait for it to exit."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
        stop_process(self.process)
        self._reader.join(STOP_TIMEOUT)
        assert self.process.stdout is not None
        self.process.stdout.close()


@contextmanager
def event_stream(root: Path, log: Path) -> Iterator[EventStream]:
    """``reloadd events --json`` for ``root``, stopped after the block."""
    stream = EventStream(root, log)
    try:
        yield stream
    finally:
        stream.stop()


FLOOD = 4 * MAX_QUEUED_EVENTS_PER_SUBSCRIBER + 1000
"""State reports sent while the editor is stopped: more than its follower's pipe holds
(64 KiB, about 600 lines) and the daemon then queues for it, so that events are dropped."""


def report_while_stopped(editor_pid: int, server: Client, last: Crash) -> None:
    """Stop the editor (SIGSTOP), flood the daemon with state reports ending in ``last``'s
    crash, and let it go on once the daemon has handled them all.

    The editor's follower, whose pipe the stopped editor does not read, falls behind: the
    daemon drops events for it, the last among them, and later sends ``events-dropped``.
    """
    os.kill(editor_pid, signal.SIGSTOP)
    try:
        for number in range(FLOOD):
            server.report_state(ServerState.READY if number % 2 else ServerState.STARTING)
            if number % 100 == 99:
                server.status()  # a round trip now and then, so the reports never pile up unsent
        server.report_state(ServerState.CRASHED, error=last)
        server.status()  # answered after the daemon has handled every report before it
    finally:
        os.kill(editor_pid, signal.SIGCONT)
