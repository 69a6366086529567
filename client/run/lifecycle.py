"""What ``reloadd run`` tells the daemon of its child's life: starting, ready, crashed, stopped.

The supervisor reports, under its one registration (so the state outlives each child):

* ``starting`` when it starts a child;
* ``ready`` when the child serves (:mod:`~reloadd.client.run.readiness`), with
  ``duration_ms`` from the moment the supervisor received what caused this start (the
  change, the ``reloadd reload`` request, the exit with code 3) — none for the first
  child;
* ``crashed`` when the child ends by itself with an uncaught exception (its type,
  message, and the project's file and line), or with a non-zero status (``Exited``, and
  how it ended); shown until a change starts the next child;
* ``stopped`` when a child ends by itself with status 0, and when ``reloadd run`` ends.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable

from reloadd.client.run.command import how_it_ended
from reloadd.client.run.readiness import Readiness, Ready
from reloadd.client.run.reports import Crash as ChildCrash
from reloadd.client.run.watcher import Watcher
from reloadd.protocol import Crash, ServerState

EXITED = "Exited"
"""The ``type`` of a crash reported for a child that ended with a non-zero status but no
uncaught exception the hook saw (a non-Python command, ``sys.exit(1)``, a signal)."""


class Lifecycle:
    """The current child's state, reported through the watcher's connection."""

    def __init__(
        self,
        watcher: Watcher,
        sockets: list[socket.socket],
        *,
        label: str,
        say: Callable[[str], None],
    ) -> None:
        self._watcher = watcher
        self._label = label
        self._sockets = sockets
        self._say = say
        self._readiness: Readiness | None = None
        self._cause: float | None = None
        """When (monotonic) the supervisor received what caused the next start."""
        self._started_by: float | None = None
        self._serves_tcp = False
        """A child of this run listened on a TCP port: wait for the next ones to listen too."""
        self.state: ServerState | None = None

    def caused_by(self, at: float) -> None:
        """The next start is caused by something received at ``at`` (``time.monotonic()``);
        the earliest cause not yet followed by a start counts."""
        self._cause = at if self._cause is None else min(self._cause, at)

    def started(self, pid: int) -> None:
        """A child started: ``starting``, and watch for it to serve."""
        self._started_by, self._cause = self._cause, None
        self._report(ServerState.STARTING)
        moment = not self._sockets and not self._serves_tcp
        self._readiness = Readiness(pid, self._sockets, moment=moment)

    def imported(self) -> None:
        """The child reported imports: it is still starting."""
        if self._readiness is not None:
            self._readiness.imported()

    def next_check(self) -> float | None:
        """Seconds until :meth:`check` should run again; None while nothing is awaited."""
        return None if self._readiness is None else self._readiness.next_check()

    def check(self) -> Ready | None:
        """While the child runs: report ``ready`` once it serves; return how, that once."""
        if self._readiness is None:
            return None
        ready = self._readiness.check()
        if ready is None:
            return None
        self._readiness = None
        self._serves_tcp = self._serves_tcp or ready.listened
        duration = None
        if self._started_by is not None:
            duration = round((time.monotonic() - self._started_by) * 1000)
        self._report(ServerState.READY, duration_ms=duration)
        after = f", {duration} ms after the change" if duration is not None else ""
        self._say(f"{self._label} is ready: it {ready.how}{after}")
        return ready

    def ended(self, code: int, crash: ChildCrash | None) -> None:
        """The child ended by itself (not stopped by the supervisor) with status ``code``."""
        self._readiness = None
        if crash is not None and code != 0:
            self._report(ServerState.CRASHED, error=crash.report())
        elif code != 0:
            self._report(ServerState.CRASHED, error=Crash(EXITED, how_it_ended(code)))
        else:
            self._report(ServerState.STOPPED)

    def failed_to_start(self, error: OSError) -> None:
        """The command could not be started again (it was removed, its permissions changed)."""
        self._readiness = None
        message = error.strerror or str(error)
        self._report(ServerState.CRASHED, error=Crash(type(error).__name__, message))

    def stopped(self) -> None:
        """``reloadd run`` ends: ``stopped``."""
        self._readiness = None
        self._report(ServerState.STOPPED)

    def _report(
        self, state: ServerState, *, error: Crash | None = None, duration_ms: int | None = None
    ) -> None:
        self.state = state
        self._watcher.report(state, error=error, duration_ms=duration_ms)
