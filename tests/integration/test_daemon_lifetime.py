"""A daemon's lifetime and how ``status`` names its clients: idle exit, one-shot tools, same names."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from reloadd.client import Client, Role
from tests.daemon_process import STOP_TIMEOUT, DaemonProcess
from tests.integration.helpers import edit, expect_changes

EXIT_TIMEOUT = 20.0
"""The longest a test waits for an idle daemon to exit."""


class ServeProcess(DaemonProcess):
    """A daemon started through ``reloadd.daemon.main.serve`` with ``idle_exit`` and ``grace``."""

    def __init__(self, root: Path, log_path: Path, *, idle_exit: float, grace: float) -> None:
        super().__init__(root, backend="builtin", log_path=log_path)
        self.idle_exit = idle_exit
        self.grace = grace

    def command(self) -> list[str]:
        """``serve(...)`` called from Python, as the command line's ``--idle-exit`` does."""
        call = (
            "import sys; from reloadd.daemon.main import serve; "
            f"sys.exit(serve(root={str(self.root)!r}, backend='builtin', log_level='DEBUG', "
            f"grace={self.grace!r}, idle_exit={self.idle_exit!r}))"
        )
        return [sys.executable, "-c", call]

    def wait_exit(self, timeout: float = EXIT_TIMEOUT) -> int:
        """Wait for the daemon to exit by itself; return its exit status."""
        assert self.process is not None
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            pytest.fail(f"the daemon did not exit within {timeout} s:\n{self.log()}")


def test_an_idle_daemon_exits_cleanly(
    project: Path, tmp_path: Path, daemon_factory: list[DaemonProcess]
) -> None:
    daemon = ServeProcess(project, tmp_path / "daemon.log", idle_exit=1.0, grace=0.5)
    daemon_factory.append(daemon)
    daemon.start()
    app = project / "app.py"
    app.write_text("x = 1\n")
    with Client(project, name="web", spawn=False) as client:
        client.watch(files=[app])
        # While a client is connected the daemon stays, however long.
        deadline = time.monotonic() + 3.0
        while time.monotonic() < deadline:
            edit(app)
            expect_changes(client, app)
        assert daemon.process is not None
        assert daemon.process.poll() is None
    # It left: kept for its grace period (0.5 s), then idle for 1 s, then the daemon exits.
    assert daemon.wait_exit() == 0
    assert "no client for 1 s; exiting" in daemon.log()
    assert not daemon.endpoint.socket_path.exists()


def test_tools_are_not_kept_nor_listed_once_gone(
    daemon: DaemonProcess, project: Path, backend_name: str
) -> None:
    with Client(project, name="reloadd status", role=Role.TOOL, spawn=False) as tool:
        tool.status()
    with Client(project, name="web", spawn=False) as web:
        web.watch(files=[project / "app.py"])
    with Client(project, name="probe", role=Role.TOOL, spawn=False) as probe:
        clients = probe.status().clients
    assert [(c.name, c.connected) for c in clients] == [("web", False)], "web in its grace period"


def test_two_clients_of_the_same_name_are_told_apart(daemon: DaemonProcess, project: Path) -> None:
    other = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from reloadd.client import Client\n"
            f"with Client({str(project)!r}, name='python app.py', spawn=False):\n"
            "    print('ready', flush=True); sys.stdin.read()",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert other.stdout is not None
        assert other.stdout.readline().strip() == "ready"
        with (
            Client(project, name="python app.py", spawn=False),
            Client(project, name="python app.py", spawn=False),
            Client(project, name="probe", spawn=False) as probe,
        ):
            names = sorted(c.name for c in probe.status().clients if c.connected)
    finally:
        assert other.stdin is not None
        assert other.stdout is not None
        other.stdin.close()
        other.wait(STOP_TIMEOUT)
        other.stdout.close()
    mine = f"python app.py (pid {os.getpid()})"
    assert names == sorted([f"python app.py (pid {other.pid})", mine, f"{mine} #2"])


@pytest.fixture
def backend_name() -> str:
    """These tests are about the daemon's lifetime, not the watcher: the built-in one suffices."""
    return "builtin"
