"""The supervisor's one connection to the daemon, in a thread of its own.

A :class:`~reloadd.client.Client` is used from one thread; this thread owns it
for the life of ``reloadd run``, across child restarts, under one stable name.
The main thread hands it files to register (with their ``since``) and the child's
states to report, and gets the changes and restart requests (``reloadd reload``)
back through a queue, with a :class:`~reloadd.protocol.wakeup.Wakeup` to wake
its selector (safe to set after :meth:`Watcher.stop` gave up waiting for the thread).

The thread can only look at its queues between two waits on the daemon, so it waits
in short slices (``STARTING_SLICE``) while a child starts, when a state report is
due soon: from a change (or a restart request, or a ``starting`` report) until the
next report, at most ``STARTING_PERIOD`` seconds.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from reloadd.client.connection import Client
from reloadd.protocol import Crash, ReloaddError, ServerState
from reloadd.protocol.wakeup import Wakeup

IDLE_SLICE = 0.5
"""Seconds the thread waits on the daemon before it looks for files to register, when idle.

Files registered late lose nothing (each comes with its ``since``); only the
notification of a change made in between comes later.
"""

BUSY_SLICE = 0.05
"""The same, for ``BUSY_PERIOD`` seconds after the last registration (a child is importing)."""

BUSY_PERIOD = 2.0

STARTING_SLICE = 0.005
"""The same, while a child starts: a ``ready`` or ``crashed`` report is sent this late at most."""

STARTING_PERIOD = 30.0
"""Seconds at most that the thread waits in ``STARTING_SLICE``s for a child's next report."""


@dataclass(frozen=True)
class Changes:
    """Files the daemon reported changed, and when the thread received them (Unix time)."""

    paths: list[Path]
    at: float
    received: float = 0.0
    """The same moment on ``time.monotonic()``'s clock."""


@dataclass(frozen=True)
class RestartRequested:
    """Someone asked the daemon to restart this dev server (``reloadd reload``)."""

    at: float
    """When the thread received the request (``time.monotonic()``)."""


@dataclass(frozen=True)
class StateReport:
    """A state of the child to tell the daemon (see :meth:`Client.report_state`)."""

    state: ServerState
    error: Crash | None = None
    duration_ms: int | None = None


@dataclass(frozen=True)
class WatcherStopped:
    """The thread ended; ``error`` says why when it was not asked to."""

    error: str | None


Event = Changes | RestartRequested | WatcherStopped


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
        self._to_report: queue.SimpleQueue[StateReport] = queue.SimpleQueue()
        self._report_due_until = 0.0
        """Until when (monotonic) a state report is expected soon: wait in short slices."""
        self._events: queue.SimpleQueue[Event] = queue.SimpleQueue()
        self._wakeup = Wakeup()
        self._stop = threading.Event()
        self._globs = globs
        self._last_report: StateReport | None = None
        self._reported_to = ""
        """The ``instance`` of the daemon told ``_last_report``: a new daemon is told again."""
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

    def report(
        self, state: ServerState, *, error: Crash | None = None, duration_ms: int | None = None
    ) -> None:
        """Tell the daemon the child's state (sent in order, before ``bye`` at :meth:`stop`)."""
        self._to_report.put(StateReport(state, error, duration_ms))
        if state is ServerState.STARTING:
            self._report_due_until = time.monotonic() + STARTING_PERIOD

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
                    self._send_reports(client)
                    if self._register(client):
                        busy_until = time.monotonic() + BUSY_PERIOD
                    changed = client.wait(timeout=self._slice(busy_until))
                    if changed:
                        self._post(Changes(changed, time.time(), time.monotonic()))
                    if client.restart_requested:
                        self._post(RestartRequested(time.monotonic()))
                    if changed or client.restart_requested:  # a restart follows: report soon
                        self._report_due_until = time.monotonic() + STARTING_PERIOD
                    self.backend = client.backend
                self._send_reports(client)  # ``stopped``, before the client says ``bye``
            error = None
        except ReloaddError as exc:
            error = str(exc)
        finally:
            self._post(WatcherStopped(None if self._stop.is_set() else error))

    def _slice(self, busy_until: float) -> float:
        now = time.monotonic()
        if now < self._report_due_until:
            return STARTING_SLICE
        return BUSY_SLICE if now < busy_until else IDLE_SLICE

    def _send_reports(self, client: Client) -> None:
        """Send the queued reports; tell a daemon that restarted the last state again."""
        while True:
            try:
                report = self._to_report.get_nowait()
            except queue.Empty:
                break
            starting = report.state is ServerState.STARTING
            self._report_due_until = time.monotonic() + STARTING_PERIOD if starting else 0.0
            client.report_state(report.state, error=report.error, duration_ms=report.duration_ms)
            self._last_report = replace(report, duration_ms=None)
            self._reported_to = client.daemon.instance if client.connected else ""
        last = self._last_report
        if last is not None and client.connected and client.daemon.instance != self._reported_to:
            client.report_state(last.state, error=last.error)
            self._reported_to = client.daemon.instance

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
