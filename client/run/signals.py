"""The supervisor's signals: recorded by handlers, and waking its selector through a :class:`Wakeup`.

SIGINT, SIGTERM and SIGHUP ask ``reloadd run`` to stop; SIGCHLD says a child
exited. The handlers only record the signal; ``signal.set_wakeup_fd`` writes
to the wake-up pipe, so the main loop's selector returns and the loop reads
:meth:`SignalInbox.take`.
"""

from __future__ import annotations

import signal
from types import FrameType

from reloadd.protocol.wakeup import Wakeup

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
"""The signals that stop ``reloadd run`` (and its child)."""


class SignalInbox:
    """Handlers for :data:`STOP_SIGNALS` and SIGCHLD, between :meth:`install` and :meth:`close`."""

    def __init__(self) -> None:
        self._wakeup = Wakeup()
        self._received: list[int] = []
        self._previous: dict[int, object] = {}
        self._previous_wakeup_fd: int | None = None

    def fileno(self) -> int:
        """Readable once a signal arrived: for the main loop's selector."""
        return self._wakeup.fileno()

    def install(self) -> None:
        """Record the signals from now on (main thread only)."""
        for signum in (*STOP_SIGNALS, signal.SIGCHLD):
            self._previous[signum] = signal.signal(signum, self._record)
        self._previous_wakeup_fd = signal.set_wakeup_fd(self._wakeup.write_fd)

    def take(self) -> list[signal.Signals]:
        """The signals received since the last call."""
        self._wakeup.clear()
        received, self._received = self._received, []  # a later signal lands in the new list
        return [signal.Signals(signum) for signum in received]

    def stops(self) -> list[signal.Signals]:
        """Of :meth:`take`, the signals that ask to stop."""
        return [signum for signum in self.take() if signum in STOP_SIGNALS]

    def close(self) -> None:
        """Put the previous handlers back, then free the wake-up pipe."""
        if self._previous_wakeup_fd is not None:
            signal.set_wakeup_fd(self._previous_wakeup_fd)
            self._previous_wakeup_fd = None
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)  # type: ignore[arg-type]
        self._previous.clear()
        self._wakeup.close()

    def _record(self, signum: int, frame: FrameType | None) -> None:
        self._received.append(signum)
