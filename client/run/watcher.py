"""The supervisor's one connection to the daemon, in a thread of its own.

A :class:`~reloadd.client.Client` is used from one thread; this thread owns it
for the life of ``reloadd run``, across child restarts, under one stable name.
The main thread hands it files to register (with their ``since``) and gets the
changes back through a queue, with a :class:`~reloadd.protocol.wakeup.Wakeup` to wake
its selector (safe to set after :meth:`Watcher.stop` gave up waiting for the thread).
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from reloadd.client.connection import Client
from reloadd.protocol import ReloaddError
from reloadd.protocol.wakeup import Wakeup

IDLE_SLICE = 0.5
"""Seconds the thread waits on the daemon before it looks for files to register, when idle.

Files registered late lose nothing (each comes with its ``since``); only the
notification of a change made in between comes later.
"""

BUSY_SLICE = 0.05
"""The same, for ``BUSY_PERIOD`` seconds after the last registration (a child is importing)."""

BUSY_PERIOD = 2.0


@dataclass(frozen=True)
class Changes:
    """Files the daemon reported changed, and when the thread received them (Unix time)."""

    paths: list[Path]
    at: float


@dataclass(frozen=True)
class WatcherStopped:
    """The thread ended; ``error`` says why when it was not asked to."""

    error: str | None


Event = Changes | WatcherStopped


class Watcher:
    """Registers files with the daemon and reports changes, from its own thread."""

    def __init__(
        self,
        make_client: Callable[[], Client],
        *,
        globs: tuple[tuple[str, str], ...] = (),
        files: tuple[str, ...] = (),
    ) -> None:
        self._make_client = make_client
        self._to_watch: queue.SimpleQueue[tuple[list[str], float]] = queue.SimpleQueue()
        self._events: queue.SimpleQueue[Event] = queue.SimpleQueue()
        self._wakeup = Wakeup()
        self._stop = threading.Event()
        self._globs = globs
        self._files = files
        self._started_at = 0.0
        self.backend = "connecting"
        """The daemon's backend once connected (``polling`` in fallback)."""
        self._thread = threading.Thread(target=self._run, name="reloadd-watcher", daemon=True)

    def start(self) -> None:
        """Connect (in the thread) and start watching."""
        # The first child may start (and a file change) before the thread has registered
        # the --watch globs: those are registered with this moment as their ``since``.
        self._started_at = time.time()
        self._thread.start()

    def fileno(self) -> int:
        """Readable when :meth:`take` has something: for the main thread's selector."""
        return self._wakeup.fileno()

    def watch(self, files: list[str], since: float) -> None:
        """Register files; changes made after ``since`` (Unix time) are reported."""
        if files:
            self._to_watch.put((files, since))

    def take(self) -> list[Event]:
        """Everything the thread has reported so far."""
        self._wakeup.clear()
        taken: list[Event] = []
        while True:
            try:
                taken.append(self._events.get_nowait())
            except queue.Empty:
                return taken

    def put_back(self, event: Event) -> None:
        """Report an event taken too early again (it wakes the selector again)."""
        self._post(event)

    def stop(self, timeout: float = 3.0) -> None:
        """Ask the thread to say goodbye to the daemon and end; wait up to ``timeout``."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)
        self._wakeup.close()  # a thread still running from here on wakes no one

    def _post(self, event: Event) -> None:
        self._events.put(event)
        self._wakeup.set()

    def _run(self) -> None:
        error: str | None = "the watcher thread ended unexpectedly"
        try:
            with self._make_client() as client:
                self.backend = client.backend
                if self._files or self._globs:
                    client.watch(files=self._files, globs=self._globs, since=self._started_at)
                busy_until = 0.0
                while not self._stop.is_set():
                    if self._register(client):
                        busy_until = time.monotonic() + BUSY_PERIOD
                    busy = time.monotonic() < busy_until
                    changed = client.wait(timeout=BUSY_SLICE if busy else IDLE_SLICE)
                    if changed:
                        self._post(Changes(changed, time.time()))
                    self.backend = client.backend
            error = None
        except ReloaddError as exc:
            error = str(exc)
        finally:
            self._post(WatcherStopped(None if self._stop.is_set() else error))

    def _register(self, client: Client) -> bool:
        """Register what the main thread handed over; whether there was anything."""
        files: list[str] = []
        since: float | None = None
        while True:
            try:
                batch, batch_since = self._to_watch.get_nowait()
            except queue.Empty:
                break
            files.extend(batch)
            since = batch_since if since is None else min(since, batch_since)
        if files and since is not None:
            client.watch(files=files, since=since)
            return True
        return False
