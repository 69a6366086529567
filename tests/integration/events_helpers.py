"""Following ``reloadd events --json`` as a subprocess, as an editor plugin does through a pipe."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from reloadd.client import Client
from reloadd.client.events import DaemonEvent

EVENT_TIMEOUT = 10.0
"""The longest a test waits for an event that must come."""

CLI_TIMEOUT = 20.0
"""The longest a ``reloadd`` command run by a test may take."""


def reloadd(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run one ``reloadd`` command to its end."""
    return subprocess.run(
        [sys.executable, "-m", "reloadd.client.cli", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT,
        check=False,
    )


class EventsProcess:
    """``reloadd events --json`` running; its lines read by a thread into a queue."""

    def __init__(self, root: Path, *extra: str, command: str = "events") -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "reloadd.client.cli", command, "--root", str(root), *extra],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
        )
        self.lines: queue.Queue[str | None] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def next_line(self, timeout: float = EVENT_TIMEOUT) -> str:
        """The next line it printed; fails the test if none comes in time or it exited."""
        try:
            line = self.lines.get(timeout=timeout)
        except queue.Empty:
            pytest.fail(f"reloadd events printed nothing for {timeout} s")
        if line is None:
            pytest.fail(f"reloadd events exited: {self.stop()}")
        return line

    def line_with(self, *parts: str, timeout: float = EVENT_TIMEOUT) -> str:
        """The next line that holds every one of ``parts``."""
        deadline = time.monotonic() + timeout
        while True:
            line = self.next_line(max(0.0, deadline - time.monotonic()))
            if all(part in line for part in parts):
                return line

    def next_json(self, timeout: float = EVENT_TIMEOUT) -> dict[str, Any]:
        """The next event, as the JSON object it printed."""
        data: dict[str, Any] = json.loads(self.next_line(timeout))
        return data

    def interrupt(self) -> tuple[int, str]:
        """Ctrl-C: its exit status and what it wrote on stderr."""
        self.process.send_signal(signal.SIGINT)
        return self.stop()

    def stop(self) -> tuple[int, str]:
        """Wait for it to exit (SIGKILL if it does not in time); its status and stderr."""
        try:
            _, err = self.process.communicate(timeout=CLI_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.process.kill()
            _, err = self.process.communicate(timeout=CLI_TIMEOUT)
        return self.process.returncode, err


def next_event(events: Iterator[DaemonEvent]) -> DaemonEvent:
    """The next event of a ``Client.events(timeout=EVENT_TIMEOUT)`` iterator; fails the test
    if none came in time."""
    try:
        return next(events)
    except StopIteration:
        pytest.fail(f"no event within {EVENT_TIMEOUT} s")


def summary(event: dict[str, Any]) -> tuple[str, str]:
    """What an event is about, for comparing streams: its kind and its client (or clients)."""
    return event["event"], event.get("client") or ",".join(event.get("clients", []))


def state_round_trip(client: Client) -> None:
    """Make sure the daemon handled what ``client`` sent before (a report has no reply)."""
    client.status()


def wait_for(condition: Any, what: str, timeout: float = EVENT_TIMEOUT) -> None:
    """Wait until ``condition()`` is true."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"{what} did not happen within {timeout} s"
        time.sleep(0.01)


def replace_atomically(path: Path, text: str) -> None:
    """Write ``path`` as one rename, so the watcher sees one change, not a truncate and a write."""
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(text)
    os.replace(temporary, path)
