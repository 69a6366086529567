"""``STATUS=``: the one line ``systemctl --user status`` shows for the daemon, kept current.

For example ``3 dev servers, 20,417 files; last change 12 s ago``. The line is
recomputed by the main loop at most once per :data:`STATUS_INTERVAL` and sent only
when it reads differently; ages are rounded (to 10 s, then minutes, then hours), so
an idle daemon sends about one line a minute, and a busy one at most one a second.
"""

from __future__ import annotations

import time

from reloadd.daemon.context import DaemonContext
from reloadd.daemon.systemd import Notifier
from reloadd.protocol import Role

STATUS_INTERVAL = 1.0
"""Seconds between two checks of the status line (only a changed line is sent)."""


def status_line(ctx: DaemonContext, *, now: float) -> str:
    """The status of the daemon in one line (``now`` is :func:`time.time`)."""
    counts = {role: 0 for role in Role}
    for record in ctx.registry:
        if record.connected:
            counts[record.role] += 1
    parts = [_count(counts[Role.SERVER], "dev server")]
    if counts[Role.EDITOR]:
        parts.append(_count(counts[Role.EDITOR], "editor"))
    parts.append(_count(len(ctx.history.states), "file"))
    newest = ctx.history.log.newest()
    last = "no change yet" if newest is None else f"last change {age(now - newest)}"
    return f"{', '.join(parts)}; {last}"


def _count(number: int, noun: str) -> str:
    return f"{number:,} {noun}{'' if number == 1 else 's'}"


def age(seconds: float) -> str:
    """``just now``, ``20 s ago``, ``3 min ago``, ``2 h ago``: coarse, so it changes seldom."""
    if seconds < 10:
        return "just now"
    if seconds < 60:
        return f"{int(seconds) // 10 * 10} s ago"
    if seconds < 3600:
        return f"{int(seconds) // 60} min ago"
    return f"{int(seconds) // 3600} h ago"


class StatusReporter:
    """Sends :func:`status_line` as ``STATUS=`` when it changed, from the main loop."""

    def __init__(self, notifier: Notifier, ctx: DaemonContext, *, now: float) -> None:
        """``now``: :func:`time.monotonic`; the first check is one interval later."""
        self.notifier = notifier
        self.ctx = ctx
        self.sent = ""
        """The line systemd has now."""
        self._due = now + STATUS_INTERVAL

    @property
    def due(self) -> float:
        """When the line is next checked (monotonic clock)."""
        return self._due

    def current(self) -> str:
        """The line as it reads now."""
        return status_line(self.ctx, now=time.time())

    def run(self, now: float) -> None:
        """Send the line if it reads differently from the one sent last."""
        line = self.current()
        if line != self.sent and self.notifier.send(STATUS=line):
            self.sent = line
        self._due = now + STATUS_INTERVAL
