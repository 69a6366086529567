"""The systemd watchdog (``WatchdogSec=``): ``WATCHDOG=1`` from the main loop, at half the period.

systemd sets ``$WATCHDOG_USEC`` (and ``$WATCHDOG_PID``) when the unit has
``WatchdogSec=``; if no ``WATCHDOG=1`` arrives within that time it kills the daemon
(SIGABRT, which makes Python print every thread's stack to the journal, then
SIGKILL) and restarts it. The ping is sent by a :class:`LoopTimer` the main loop
runs, never by a thread of its own: a loop stuck in a handler or in a lock must stop
the pings, so that systemd restarts the daemon.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from reloadd.daemon.systemd import Notifier


def watchdog_period(environ: Mapping[str, str] | None = None) -> float | None:
    """Seconds between pings (half of ``$WATCHDOG_USEC``), or None if no watchdog is set.

    As ``sd_watchdog_enabled(3)``: a ``$WATCHDOG_PID`` naming another process means
    the watchdog is not ours; an unreadable or zero ``$WATCHDOG_USEC`` means none.
    """
    env = os.environ if environ is None else environ
    pid = env.get("WATCHDOG_PID", "")
    if pid and pid != str(os.getpid()):
        return None
    try:
        usec = int(env.get("WATCHDOG_USEC", ""))
    except ValueError:
        return None
    if usec <= 0:
        return None
    return usec / 2 / 1_000_000


class Watchdog:
    """Sends ``WATCHDOG=1`` each :attr:`period` seconds, when the main loop runs it."""

    def __init__(self, notifier: Notifier, period: float, *, now: float) -> None:
        """``now``: :func:`time.monotonic` when the daemon told systemd it is ready."""
        self.notifier = notifier
        self.period = period
        self._due = now + period

    @property
    def due(self) -> float:
        """When the next ping is due (monotonic clock)."""
        return self._due

    def run(self, now: float) -> None:
        """Ping systemd, and schedule the next ping one period from now."""
        self.notifier.send(WATCHDOG="1")
        self._due = now + self.period
