"""The bench's side of a worker: one simulated dev server in its own process.

A worker (``python -m bench.worker``) runs one contender on a tree and prints one JSON
line per event on its stdout: ``ready`` with the set-up it paid, then ``changed`` with
the ``time.monotonic_ns()`` at which it was told of a change and how many paths it was
told of. ``CLOCK_MONOTONIC`` is shared by every process on the machine, so the bench
compares it with the time it saved a file just before.
"""

from __future__ import annotations

import itertools
import json
import queue
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from bench.contenders import MODULES
from bench.trees import Tree

READY_TIMEOUT = 120.0
STOP_TIMEOUT = 5.0

KINDS = tuple(MODULES)
"""Contender kinds a worker can run (see ``bench/contenders/``)."""

_serial = itertools.count(1)


@dataclass(frozen=True)
class Change:
    """One notification a worker got."""

    at_ns: int
    """``time.monotonic_ns()`` when it was told."""
    paths: int


class Worker:
    """A running worker process; stop it with :meth:`stop` (by its PID)."""

    def __init__(
        self,
        kind: str,
        tree: Tree,
        *,
        env: dict[str, str],
        log_dir: Path,
        name: str = "bench server",
        watchman_sock: str = "",
    ) -> None:
        if kind not in KINDS:
            raise ValueError(f"unknown worker kind {kind!r}")
        self.kind = kind
        self.log_path = log_dir / f"worker{next(_serial)}-{kind}-{tree.root.name}.log"
        command = [
            sys.executable,
            "-m",
            "bench.worker",
            kind,
            str(tree.root),
            str(tree.files_list()),
        ]
        command += ["--name", name]
        child_env = dict(env)
        if watchman_sock:
            child_env["WATCHMAN_SOCK"] = watchman_sock
        self._events: queue.Queue[dict[str, object]] = queue.Queue()
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                command,
                stdout=subprocess.PIPE,
                stderr=log,
                stdin=subprocess.DEVNULL,
                env=child_env,
                cwd=str(Path(__file__).resolve().parent.parent),
            )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self.setup_s: float | None = None

    @property
    def pid(self) -> int:
        """The worker's PID."""
        return self.process.pid

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            try:
                self._events.put(json.loads(line))
            except ValueError:
                continue
        self._events.put({"event": "exit"})

    def wait_ready(self, timeout: float = READY_TIMEOUT) -> float:
        """Wait for ``ready``; return the set-up the worker paid, in seconds."""
        event = self._next(timeout)
        if event is None or event.get("event") != "ready":
            self.stop()
            raise RuntimeError(f"{self.kind} worker did not get ready ({event}): {self.log()}")
        setup = event["setup_s"]
        assert isinstance(setup, float)
        self.setup_s = setup
        return setup

    def next_change(self, timeout: float) -> Change | None:
        """The next notification, or None if none comes within ``timeout`` seconds."""
        event = self._next(timeout)
        if event is None:
            return None
        if event.get("event") != "changed":
            raise RuntimeError(f"{self.kind} worker: unexpected {event}: {self.log()}")
        at_ns, paths = event["at_ns"], event["paths"]
        assert isinstance(at_ns, int)
        assert isinstance(paths, int)
        return Change(at_ns, paths)

    def poll_change(self) -> Change | None:
        """A notification already received, if any (no waiting)."""
        return self.next_change(0.0)

    def discard_pending(self) -> int:
        """Forget notifications already received; return how many there were."""
        discarded = 0
        while True:
            try:
                self._events.get_nowait()
            except queue.Empty:
                return discarded
            discarded += 1

    def _next(self, timeout: float) -> dict[str, object] | None:
        try:
            return self._events.get(timeout=max(0.0, timeout))
        except queue.Empty:
            return None

    def log(self) -> str:
        """The end of the worker's stderr."""
        try:
            return self.log_path.read_text(errors="replace")[-3000:]
        except OSError:
            return ""

    def stop(self) -> None:
        """SIGTERM it (it says goodbye to its daemon), SIGKILL if it lingers; reap it."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(STOP_TIMEOUT)
        self._reader.join(STOP_TIMEOUT)
        if self.process.stdout is not None and not self._reader.is_alive():
            self.process.stdout.close()


def collect_until_quiet(
    workers: list[Worker], quiet: float, limit: float
) -> tuple[list[list[Change]], bool]:
    """Each worker's notifications until none of them got one for ``quiet`` seconds.

    Stops after ``limit`` seconds in all; the flag says whether that cut it short.
    """
    found: list[list[Change]] = [[] for _ in workers]
    started = last = time.monotonic()
    while True:
        now = time.monotonic()
        if now - last >= quiet:
            return found, False
        if now - started >= limit:
            return found, True
        got = False
        for index, worker in enumerate(workers):
            while (change := worker.poll_change()) is not None:
                found[index].append(change)
                got = True
        if got:
            last = time.monotonic()
        else:
            time.sleep(0.005)
