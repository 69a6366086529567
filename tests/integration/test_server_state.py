"""``state``: a dev server's reported state is kept on its registration and shown by ``status``."""

from __future__ import annotations

from pathlib import Path

import pytest

from reloadd.client import Client, Crash, Role, ServerState
from reloadd.protocol import ProtocolError
from tests.daemon_process import DaemonProcess


def state_of(
    project: Path, name: str, *, after: Client | None = None
) -> tuple[ServerState | None, bool]:
    """The state the daemon shows for ``name``, once it has read what ``after`` sent before."""
    if after is not None:
        after.status()  # a round trip on the reporter's own connection: its report came first
    with Client(project, name="status", role=Role.TOOL, spawn=False) as tool:
        (info,) = [client for client in tool.status().clients if client.name == name]
    return info.state, info.connected


def test_a_reported_state_is_shown_by_status(project: Path, daemon: DaemonProcess) -> None:
    with Client(project, name="web", spawn=False) as web:
        assert state_of(project, "web") == (None, True)
        web.report_state(ServerState.STARTING)
        assert state_of(project, "web", after=web) == (ServerState.STARTING, True)
        web.report_state(
            ServerState.CRASHED,
            error=Crash("SyntaxError", "invalid syntax", str(project / "views.py"), 12),
        )
        assert state_of(project, "web", after=web) == (ServerState.CRASHED, True)
        web.report_state(ServerState.READY)
        assert state_of(project, "web", after=web) == (ServerState.READY, True)
    # The state belongs to the registration, kept for the grace period after the client left.
    assert state_of(project, "web") == (ServerState.READY, False)


def test_a_crash_without_its_error_is_refused_before_sending(
    project: Path, daemon: DaemonProcess
) -> None:
    with Client(project, name="web", spawn=False) as web:
        with pytest.raises(ProtocolError, match="error must be given"):
            web.report_state(ServerState.CRASHED)
        web.report_state(ServerState.READY)
        assert state_of(project, "web", after=web) == (ServerState.READY, True)


def test_a_burst_of_reports_keeps_the_connection(project: Path, daemon: DaemonProcess) -> None:
    """More reports than the socket queues (SNDHWM) wait for room instead of reconnecting."""
    with Client(project, name="web", spawn=False) as web:
        instance = web.daemon.instance
        for number in range(50_000):
            web.report_state(ServerState.STARTING if number % 2 else ServerState.READY)
        web.report_state(ServerState.READY)
        assert state_of(project, "web", after=web) == (ServerState.READY, True)
        with Client(project, name="status", role=Role.TOOL, spawn=False) as tool:
            names = [client.name for client in tool.status().clients]
        assert names == ["web"]  # one registration: the client never took the daemon for gone
        assert web.daemon.instance == instance
