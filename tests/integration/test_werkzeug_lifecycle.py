"""werkzeug's ``reloader_type="reloadd"`` reports its life to the daemon: starting, ready, stopped.

Real Flask processes (``app.run(debug=True, reloader_type="reloadd")``) and a real daemon;
the state is read as ``reloadd status`` reads it (:mod:`tests.integration.server_states`).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from reloadd.protocol import ServerState
from tests.daemon_process import DaemonProcess
from tests.integration.dev_server import VENV_BIN, Run, get, set_greeting
from tests.integration.server_states import StateWatch
from tests.integration.test_werkzeug import FLASK_APP
from tests.net import free_port


@pytest.fixture
def backend_name() -> str:
    """About the integration, not the watcher: the built-in one suffices."""
    return "builtin"


@pytest.fixture
def app(daemon: DaemonProcess, project: Path, tmp_path: Path, runs: list[Run]) -> Run:
    """``python app.py`` (Flask, ``reloader_type="reloadd"``) in the project, not started yet."""
    (project / "app.py").write_text(FLASK_APP)
    set_greeting(project, "v1")
    run = Run(project, tmp_path / "app.log", [sys.executable, "app.py"], free_port())
    runs.append(run)
    return run


@pytest.fixture
def states(daemon: DaemonProcess, project: Path, app: Run) -> Iterator[StateWatch]:
    """The state of the app's server process as the daemon shows it."""
    with StateWatch(project, f"app.py in {project}") as watch:
        yield watch


def answer(run: Run) -> str:
    """GET the app once, at once: a 200 answer (anything else fails)."""
    body = get(run.url)
    assert body is not None, f"no 200 answer; log:\n{run.log()}"
    return body


def test_an_edit_goes_starting_then_ready_and_ready_serves_the_new_code(
    project: Path, app: Run, states: StateWatch
) -> None:
    app.start()
    first = states.wait_for_state(ServerState.READY)
    assert answer(app) == f"v1 from {first.pid}"
    set_greeting(project, "v2")
    second = states.wait_for_state(ServerState.READY, new_after=first.pid)
    assert answer(app) == f"v2 from {second.pid}"
    assert states.seen[-2:] == [
        (second.pid, ServerState.STARTING),
        (second.pid, ServerState.READY),
    ]


@pytest.mark.parametrize("how", ["ctrl-c", "sigterm"])
def test_ctrl_c_or_sigterm_is_stopped(how: str, app: Run, states: StateWatch) -> None:
    app.start()
    ready = states.wait_for_state(ServerState.READY)
    assert app.process is not None
    if how == "ctrl-c":  # a terminal's Ctrl-C: SIGINT to the whole foreground group
        os.killpg(app.process.pid, signal.SIGINT)
    else:  # the serving process is told to stop (werkzeug's first process then exits too)
        os.kill(ready.pid, signal.SIGTERM)
    app.wait()
    info = states.wait_until(lambda info: info.state is ServerState.STOPPED, "stopped")
    assert info.pid == ready.pid


def test_an_app_that_fails_to_import_is_a_crash_until_the_fix_makes_it_ready(
    project: Path, app: Run, states: StateWatch
) -> None:
    app.start()
    first = states.wait_for_state(ServerState.READY)
    (project / "greeting.py").write_text("TEXT = 'broken'\n\nTEXT = (\n")
    # Reported by werkzeug's first process: the server process died before it could report.
    crashed = states.wait_until(
        lambda info: info.state is ServerState.CRASHED and info.pid != first.pid, "crashed"
    )
    error = crashed.last_error
    assert error is not None
    assert (error.type, error.file, error.line) == (
        "SyntaxError",
        str(project / "greeting.py"),
        3,
    )
    assert get(app.url) is None, "nothing serves while the app cannot be imported"
    assert app.process is not None
    assert app.process.poll() is None, "werkzeug's first process keeps watching"
    set_greeting(project, "fixed")
    fixed = states.wait_for_state(ServerState.READY, new_after=crashed.pid)
    assert answer(app) == f"fixed from {fixed.pid}"


def test_reload_restarts_the_server(app: Run, states: StateWatch) -> None:
    app.start()
    first = states.wait_for_state(ServerState.READY)
    reload = subprocess.run(
        [str(VENV_BIN / "reloadd"), "reload", first.name],
        cwd=app.project,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert reload.returncode == 0, reload.stderr
    again = states.wait_for_state(ServerState.READY, new_after=first.pid)
    assert answer(app) == f"v1 from {again.pid}"
    app.wait_for_log(r"A restart was asked for \(reloadd reload\), reloading")
