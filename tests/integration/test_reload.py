"""``reloadd reload [NAME]`` restarts the dev servers named, and ``status`` shows the last reload."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from reloadd.client import Client, Crash, Role, ServerState
from tests.daemon_process import DaemonProcess
from tests.integration.events_helpers import (
    EventsProcess,
    reloadd,
    replace_atomically,
    state_round_trip,
)
from tests.integration.helpers import NOTIFY_TIMEOUT, QUIET_PERIOD


@pytest.fixture
def backend_name() -> str:
    """About the daemon's requests, not the watcher: the built-in one suffices."""
    return "builtin"


def test_reload_name_restarts_that_dev_server_only(project: Path, daemon: DaemonProcess) -> None:
    with (
        Client(project, name="web", spawn=False) as web,
        Client(project, name="worker", spawn=False) as worker,
    ):
        done = reloadd("reload", "web", "--root", str(project))
        assert (done.returncode, done.stdout, done.stderr) == (
            0,
            "reloadd: asked web to restart\n",
            "",
        )
        assert web.wait(timeout=NOTIFY_TIMEOUT) == []
        assert web.restart_requested
        assert worker.wait(timeout=QUIET_PERIOD) == []
        assert not worker.restart_requested
        # The next wait is an ordinary one again.
        assert web.wait(timeout=0.1) == []
        assert not web.restart_requested
        # The restart asked for is what its next ``ready`` is timed from.
        web.report_state(ServerState.READY)
        state_round_trip(web)
        clients = json.loads(reloadd("status", "--json", "--root", str(project)).stdout)["clients"]
        reloads = {client["name"]: client["last_reload"] for client in clients}
        assert reloads["worker"] is None
        assert reloads["web"]["paths"] == []
        assert isinstance(reloads["web"]["duration_ms"], int)
        assert "(reload asked for)" in reloadd("status", "--root", str(project)).stdout


def test_reload_without_a_name_restarts_every_dev_server(
    project: Path, daemon: DaemonProcess
) -> None:
    with (
        Client(project, name="web", spawn=False) as web,
        Client(project, name="worker", spawn=False) as worker,
        Client(project, name="vim", role=Role.EDITOR, spawn=False) as vim,
    ):
        assert sorted(vim.reload()) == ["web", "worker"]
        for server in (web, worker):
            server.wait(timeout=NOTIFY_TIMEOUT)
            assert server.restart_requested


def test_reload_of_an_unknown_name_lists_the_dev_servers(
    project: Path, daemon: DaemonProcess
) -> None:
    with Client(project, name="web", spawn=False) as web:
        done = reloadd("reload", "x" * 256, "--root", str(project))
        assert done.returncode == 1
        assert done.stderr.startswith(f"reloadd: no dev server named '{'x' * 59}…'")
        assert done.stderr.endswith("; the connected ones are: web\n")
        assert web.wait(timeout=QUIET_PERIOD) == []
        assert not web.restart_requested


def test_reload_with_no_daemon_says_so(project: Path) -> None:
    done = reloadd("reload", "--root", str(project))
    assert done.returncode == 1
    assert done.stderr.startswith("reloadd: no daemon runs for ")


def test_status_shows_the_last_reload_and_the_last_error(
    project: Path, daemon: DaemonProcess
) -> None:
    app = project / "app.py"
    app.write_text("x = 1\n")
    with Client(project, name="web", spawn=False) as web:
        web.watch(files=[app])
        web.report_state(ServerState.READY)  # a first start: no reload yet
        state_round_trip(web)
        before = json.loads(reloadd("status", "--json", "--root", str(project)).stdout)
        assert before["clients"][0]["last_reload"] is None
        replace_atomically(app, "x = (\n")
        assert web.wait(timeout=NOTIFY_TIMEOUT) == [app]
        error = Crash("SyntaxError", "'(' was never closed", str(app), 1)
        web.report_state(ServerState.CRASHED, error=error)
        replace_atomically(app, "x = 2\n")
        assert web.wait(timeout=NOTIFY_TIMEOUT) == [app]
        web.report_state(ServerState.READY)
        state_round_trip(web)
        done = reloadd("status", "--json", "--root", str(project))
        table = reloadd("status", "--root", str(project)).stdout
    (client,) = json.loads(done.stdout)["clients"]
    assert client["name"] == "web"
    assert client["pid"] == os.getpid()
    assert client["state"] == "ready"
    assert client["files"] == 1
    reload = client["last_reload"]
    assert reload["paths"] == [str(app)]
    assert isinstance(reload["duration_ms"], int)
    assert reload["at"] > client["last_error_at"] > 0
    assert client["last_error"] == {
        "type": "SyntaxError",
        "message": "'(' was never closed",
        "file": str(app),
        "line": 1,
    }
    assert f"ready in {reload['duration_ms']} ms (app.py)" in table
    assert "last error" in table
    assert "SyntaxError at app.py:1: '(' was never closed" in table


def test_status_watch_redraws_as_things_happen(project: Path, daemon: DaemonProcess) -> None:
    with Client(project, name="web", spawn=False) as web:
        watcher = EventsProcess(project, "--watch", command="status")
        watcher.line_with("web", "server")
        web.report_state(ServerState.CRASHED, error=Crash("NameError", "name 'x' is not defined"))
        watcher.line_with("web", "crashed, up")
        watcher.line_with("web: last error at", "NameError: name 'x' is not defined")
        web.report_state(ServerState.READY)
        watcher.line_with("web", "ready, up")
    assert watcher.interrupt() == (0, "")
