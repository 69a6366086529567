"""Work the daemon's main loop runs at set times, next to its messages: the timer interface.

The loop sleeps in one ``poll`` no longer than the earliest timer's :attr:`LoopTimer.due`,
then runs every timer that is due, on the main thread. That is what the systemd watchdog
needs: a ping sent from the loop itself stops when the loop hangs.
"""

from __future__ import annotations

from typing import Protocol


class LoopTimer(Protocol):
    """Something the main loop runs once its time has come."""

    @property
    def due(self) -> float:
        """When it should next run, on the :func:`time.monotonic` clock."""
        ...

    def run(self, now: float) -> None:
        """Do the work (``now`` is :func:`time.monotonic`), and move :attr:`due` on."""
        ...
