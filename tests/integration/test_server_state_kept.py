"""A dev server's reported state survives a daemon restart: the client reports it again."""

from __future__ import annotations

import time
from pathlib import Path

from reloadd.client import Client, Role, ServerState
from tests.daemon_process import DaemonProcess

RECONNECT_TIMEOUT = 30.0
"""Seconds a client may take to notice the daemon is gone and register with a new one."""


def shown_state(project: Path, name: str) -> ServerState | None:
    """The state ``reloadd status`` shows for the connected client ``name``."""
    with Client(project, name="status", role=Role.TOOL, spawn=False) as tool:
        found = [c for c in tool.status().clients if c.name == name and c.connected]
    return found[0].state if found else None


def test_the_state_is_reported_again_to_a_restarted_daemon(
    project: Path, daemon: DaemonProcess, daemon_factory: list[DaemonProcess], tmp_path: Path
) -> None:
    with Client(project, name="web", spawn=False) as web:
        web.report_state(ServerState.READY)
        web.status()  # a round trip: the report came first
        assert shown_state(project, "web") is ServerState.READY
        old_instance = web.daemon.instance
        daemon.kill()
        again = DaemonProcess(
            project,
            backend=daemon.backend,
            log_path=tmp_path / "again.log",
            watchman_sock=daemon.watchman_sock,
        )
        daemon_factory.append(again)
        again.start()
        deadline = time.monotonic() + RECONNECT_TIMEOUT
        while web.daemon.instance == old_instance:
            assert time.monotonic() < deadline, "the client did not register with the new daemon"
            web.wait(timeout=0.1)
        web.status()
        assert shown_state(project, "web") is ServerState.READY
