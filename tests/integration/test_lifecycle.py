"""Starting, finding, stopping and recovering daemons; the command line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from reloadd.client import Client, DaemonNotRunning
from reloadd.client.cli import main
from reloadd.protocol.endpoint import endpoint_for
from tests.daemon_process import DaemonProcess
from tests.integration.helpers import edit, expect_changes


@pytest.fixture
def backend_name() -> str:
    """These tests are about the daemon, not the watcher: the built-in one suffices."""
    return "builtin"


def test_second_serve_on_the_same_root_exits_0_and_says_where(
    daemon: DaemonProcess, project: Path
) -> None:
    second = subprocess.run(
        daemon.command(), capture_output=True, text=True, timeout=20, check=False
    )
    assert second.returncode == 0
    assert f"already runs (pid {daemon.pid})" in second.stderr
    assert daemon.endpoint.address in second.stderr
    with Client(project, spawn=False) as client:
        assert client.daemon.pid == daemon.pid


def test_kill_9_leaves_a_stale_socket_that_the_next_daemon_replaces(
    daemon: DaemonProcess, project: Path, tmp_path: Path, daemon_factory: list[DaemonProcess]
) -> None:
    daemon.kill()
    assert daemon.endpoint.socket_path.exists(), "SIGKILL leaves the socket file behind"
    with pytest.raises(DaemonNotRunning):
        Client(project, spawn=False, handshake_timeout=0.3)
    replacement = DaemonProcess(project, backend="builtin", log_path=tmp_path / "second.log")
    daemon_factory.append(replacement)
    replacement.start()
    assert "stale socket" in replacement.log()
    app = project / "app.py"
    app.write_text("x = 1\n")
    with Client(project, spawn=False) as client:
        assert client.daemon.pid == replacement.pid
        client.watch(files=[app])
        edit(app)
        expect_changes(client, app)


def test_client_spawns_a_daemon_when_none_runs(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RELOADD_BACKEND", "builtin")
    app = project / "app.py"
    app.write_text("x = 1\n")
    with Client(project, name="web") as client:
        assert client.backend == "builtin"
        assert client.daemon.pid != os.getpid()
        client.watch(files=[app])
        edit(app)
        expect_changes(client, app)
    # The on-demand daemon outlives its first client; the suite's fixture stops it by pid.
    with Client(project, spawn=False) as again:
        assert again.daemon.pid == client.daemon.pid


def test_client_after_kill_9_spawns_a_replacement(
    daemon: DaemonProcess, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RELOADD_BACKEND", "builtin")
    daemon.kill()
    with Client(project, name="web", handshake_timeout=0.3) as client:
        assert client.daemon.pid != daemon.pid


def test_spawn_false_without_a_daemon_says_how_to_start_one(project: Path) -> None:
    with pytest.raises(DaemonNotRunning, match="reloadd start"):
        Client(project, spawn=False)


def test_cli_start_status_stop(
    project: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(project)
    assert main(["start", "--backend", "builtin"]) == 0
    out = capsys.readouterr().out
    assert "started the daemon" in out
    assert endpoint_for(project).address in out

    assert main(["start"]) == 0
    assert "already runs" in capsys.readouterr().out

    app = project / "app.py"
    app.write_text("x = 1\n")
    with Client(project, name="runserver 8000") as client:
        client.watch(files=[app], globs=[(project, "*.html")])
        assert main(["status", "--json"]) == 0
        data = json.loads(capsys.readouterr().out)
        assert main(["status"]) == 0
        table = capsys.readouterr().out
    assert {"root", "endpoint", "pid", "backend", "protocol_version", "clients"} <= data.keys()
    assert data["root"] == str(project)
    assert data["backend"] == "builtin"
    assert data["idle_since"] == 0.0, "a dev server is connected: the daemon is not idle"
    assert "idle for" not in table
    assert [
        (c["name"], c["pid"], c["files"], c["globs"]) for c in data["clients"] if c["connected"]
    ] == [("runserver 8000", os.getpid(), 1, 1)]
    assert "runserver 8000" in table
    assert "NAME" in table

    pid = data["pid"]
    assert main(["stop"]) == 0
    assert f"pid {pid}" in capsys.readouterr().out
    assert not endpoint_for(project).socket_path.exists()
    _wait_gone(pid)


def test_cli_status_without_a_daemon_fails_with_one_line(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["status", "--root", str(project)]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert err.startswith("reloadd: no reloadd daemon answers")


def test_cli_version_and_help(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--version"])
    assert exited.value.code == 0
    assert capsys.readouterr().out.startswith("reloadd ")
    with pytest.raises(SystemExit):
        main(["--help"])
    assert "examples:" in capsys.readouterr().out


def test_console_script_runs(project: Path) -> None:
    result = subprocess.run(
        [Path(sys.executable).parent / "reloadd", "status", "--root", str(project)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 1
    assert "no reloadd daemon answers" in result.stderr


def test_importing_the_client_loads_no_daemon_code() -> None:
    code = (
        "import sys, reloadd.client, reloadd.client.cli; "
        "bad = [m for m in sys.modules if m.startswith(('reloadd.daemon', 'pywatchman', 'watchfiles'))]; "
        "print(bad)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=30, check=True
    )
    assert result.stdout.strip() == "[]"


def _wait_gone(pid: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        if Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z":
            return
        time.sleep(0.02)
    pytest.fail(f"daemon {pid} still runs")
