"""The dev server's half of :class:`~reloadd.client.Client`: it reports its state, and hears
when someone asks it to restart (``reloadd reload``).

The state is what editors, ``reloadd events`` and ``reloadd status`` show: ``starting``,
``ready``, ``crashed`` with the error, ``stopped``. The integrations (Django, werkzeug,
``reloadd run``) report it; any other dev server may call :meth:`Lifecycle.report_state`.
"""

from __future__ import annotations

from reloadd.client.states import State
from reloadd.client.subscription import Subscriber
from reloadd.protocol import (
    Crash,
    DaemonNotRunning,
    DaemonTimeout,
    ServerState,
    StateReport,
    encode,
)

STATE_SEND_WAIT = 2.0
"""Seconds :meth:`Client.report_state` waits for room in a full send queue (a burst of
reports faster than the daemon reads) before taking the daemon for gone."""


class Lifecycle(Subscriber):
    """State reports and restart requests for :class:`~reloadd.client.Client`."""

    _restart_requested: bool
    _state_report: StateReport | None
    """The last state reported, sent again to a daemon registered with again."""

    def _init_lifecycle(self) -> None:
        self._restart_requested = False
        self._state_report = None

    @property
    def restart_requested(self) -> bool:
        """Whether the last :meth:`wait` returned because a restart was asked for
        (``reloadd reload``), not only because files changed: restart then too."""
        return self._restart_requested

    def report_state(
        self,
        state: ServerState,
        *,
        error: Crash | None = None,
        duration_ms: int | None = None,
    ) -> None:
        """Tell the daemon (and through it, editors and ``reloadd status``) this dev server's state.

        ``error`` goes with :attr:`ServerState.CRASHED` (see
        :func:`reloadd.client.crash.crash_of` to build one from an exception). Sent
        without waiting. While no daemon can be reached there is no one to tell; the
        last state reported is sent to each daemon this client registers with again (a
        restarted one, or one back after polling), so that it shows the state too.
        """
        if error is not None and self._remote is not None:
            error = self._remote.crash_to_host(error)
        message = StateReport(state=state, error=error, duration_ms=duration_ms)
        encode(message)  # a bad argument raises ProtocolError here, whatever the connection
        self._state_report = message
        if self._channel is None or self._machine.state is not State.REGISTERED:
            return
        try:
            self._channel.send(message, room_within=STATE_SEND_WAIT)
        except (DaemonNotRunning, DaemonTimeout) as exc:
            self._reconnect(exc)

    def _after_reconnect(self) -> None:
        super()._after_reconnect()
        if self._state_report is not None:
            self._require_channel().send(self._state_report)
