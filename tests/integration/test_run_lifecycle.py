"""``reloadd run`` reports its child's lifecycle: real supervisors, real apps, a real daemon.

The states are read as an editor would: a tool :class:`Client`'s ``status()``, polled
with a deadline. A child is held before it listens by the ``$APP_HOLD`` file (see
``run_apps.py``), which is how "not ready before it serves" is shown without timing.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from reloadd.client import Client, Role, ServerState
from reloadd.client.events import StateChanged
from reloadd.protocol import ClientInfo, ReloaddError
from tests.daemon_process import DaemonProcess
from tests.integration.dev_server import (
    RESPONSE_TIMEOUT,
    VENV_BIN,
    DevServerProcess,
    StartRun,
    get,
    set_greeting,
)
from tests.integration.helpers import QUIET_PERIOD
from tests.integration.run_apps import ASGI_APP, PYTHON_APP, write_app

READY_TRIES = int(os.environ.get("RELOADD_READY_TRIES", "100"))
"""Restarts in the "ready means serving the new code" test (each takes a few tenths of a second)."""


@pytest.fixture
def backend_name() -> str:
    """The supervisor is under test, not the watcher: the built-in one suffices."""
    return "builtin"


@pytest.fixture
def tool(project: Path, daemon: DaemonProcess) -> Iterator[Client]:
    """A tool's connection to the project's daemon, to read ``status``."""
    with Client(project, name="lifecycle test", role=Role.TOOL, spawn=False) as client:
        yield client


def server_of(tool: Client, run: DevServerProcess) -> ClientInfo | None:
    """The registration of ``run``'s supervisor, as ``status`` shows it."""
    assert run.process is not None
    for info in tool.status().clients:
        if info.role is Role.SERVER and info.pid == run.process.pid:
            return info
    return None


def wait_for(
    tool: Client,
    run: DevServerProcess,
    accept: Callable[[ClientInfo], bool],
    what: str,
    timeout: float = RESPONSE_TIMEOUT,
) -> ClientInfo:
    """Poll ``status`` until ``run``'s registration satisfies ``accept``; return it."""
    deadline = time.monotonic() + timeout
    info = None
    while time.monotonic() < deadline:
        info = server_of(tool, run)
        if info is not None and accept(info):
            return info
        time.sleep(0.01)
    pytest.fail(f"never {what}; last seen {info!r}:\n{run.log()}")


def state_after(state: ServerState, moment: float) -> Callable[[ClientInfo], bool]:
    """``state``, reported after ``moment`` (Unix time)."""
    return lambda info: info.state is state and info.state_since > moment


def stays(tool: Client, run: DevServerProcess, state: ServerState) -> None:
    """``run`` shows ``state`` throughout a quiet period (nothing to wait on: it must not change)."""
    deadline = time.monotonic() + QUIET_PERIOD
    while time.monotonic() < deadline:
        info = server_of(tool, run)
        assert info is not None
        assert info.state is state, f"{info.state} while the child was held:\n{run.log()}"
        time.sleep(0.02)


def test_an_edit_reports_starting_then_ready_only_once_the_child_listens(
    project: Path, tool: Client, start_run: StartRun, tmp_path: Path
) -> None:
    write_app(project)
    hold = tmp_path / "hold"
    run = start_run(PYTHON_APP, APP_HOLD=str(hold))
    wait_for(tool, run, lambda info: info.state is ServerState.READY, "ready")
    assert get(run.url) == f"v1 from {run.starts()[0]}"
    assert run.process is not None
    with Client(project, name="events", role=Role.TOOL, spawn=False) as listener:
        stream = (
            event
            for event in listener.events(timeout=RESPONSE_TIMEOUT)
            if isinstance(event, StateChanged) and event.pid == run.process.pid
        )
        assert next(stream).state is ServerState.READY  # the state as it stands, first

        hold.touch()  # the next child waits before it listens, until the test removes this
        edited = time.time()
        set_greeting(project, "v2")
        run.wait_for_starts(2)
        wait_for(tool, run, state_after(ServerState.STARTING, edited), "starting")
        seen_starting = time.time()  # after the supervisor received the change
        stays(tool, run, ServerState.STARTING)
        released = time.time()
        hold.unlink()
        wait_for(tool, run, state_after(ServerState.READY, released), "ready after release")
        assert get(run.url) == f"v2 from {run.starts()[1]}"
        assert "is ready: it listens on 127.0.0.1:" in run.log()

        starting, ready = next(stream), next(stream)
    assert (starting.state, ready.state) == (ServerState.STARTING, ServerState.READY)
    # The supervisor timed the restart itself, from the change it received (before the test
    # saw ``starting``) to ready (after the release).
    assert ready.duration_ms is not None
    assert ready.duration_ms >= round((released - seen_starting) * 1000) - 1


def test_with_socket_ready_means_the_child_accepts_on_it(
    project: Path, tool: Client, start_run: StartRun, tmp_path: Path
) -> None:
    write_app(project)
    hold = tmp_path / "hold"
    hold.touch()  # the first child waits before it serves the socket
    run = start_run(PYTHON_APP, "--socket", "127.0.0.1:0", APP_HOLD=str(hold))
    run.port = int(run.wait_for_log(r"listening on 127\.0\.0\.1:(\d+)").group(1))
    run.wait_for_starts(1)
    wait_for(tool, run, lambda info: info.state is ServerState.STARTING, "starting")
    stays(tool, run, ServerState.STARTING)
    released = time.time()
    hold.unlink()
    wait_for(tool, run, state_after(ServerState.READY, released), "ready after release")
    assert "is ready: it accepts on 127.0.0.1:" in run.log()
    assert get(run.url) == f"v1 from {run.starts()[0]}"


def test_a_command_that_never_listens_is_ready_once_it_stayed_up(
    project: Path, tool: Client, start_run: StartRun
) -> None:
    (project / "conf.ini").write_text("a=1\n")
    run = start_run(["sh", "-c", "echo $$ >> starts.log; exec sleep 60"], "--watch", "conf.ini")
    run.wait_for_starts(1)
    wait_for(tool, run, lambda info: info.state is ServerState.READY, "ready")
    assert "is ready: it has stayed up for 1 s" in run.log()


def test_a_syntax_error_is_crashed_at_its_file_and_line_until_fixed(
    project: Path, tool: Client, start_run: StartRun
) -> None:
    write_app(project)
    run = start_run(PYTHON_APP)
    wait_for(tool, run, lambda info: info.state is ServerState.READY, "ready")
    broken = time.time()
    (project / "greeting.py").write_text("X = 1\nTEXT = 'unterminated\n")
    crashed = wait_for(tool, run, state_after(ServerState.CRASHED, broken), "crashed")
    assert crashed.last_error is not None
    error = crashed.last_error
    assert (error.type, error.file, error.line) == ("SyntaxError", str(project / "greeting.py"), 2)
    assert "unterminated string literal" in error.message

    fixed = time.time()
    set_greeting(project, "fixed")
    wait_for(tool, run, state_after(ServerState.READY, fixed), "ready after the fix")
    assert get(run.url) == f"fixed from {run.starts()[-1]}"


def test_a_crash_in_a_library_is_reported_at_the_project_line_that_called_it(
    project: Path, tool: Client, start_run: StartRun
) -> None:
    write_app(project)
    library = project / ".venv" / "lib" / "site-packages"
    library.mkdir(parents=True)
    (library / "strict.py").write_text("def check(value):\n    raise KeyError(value)\n")
    (project / "views.py").write_text("import strict\n\n\nstrict.check('missing')\n")
    (project / "app.py").write_text(
        "import sys\nsys.path.insert(0, '.venv/lib/site-packages')\nimport views\n"
    )
    run = start_run(PYTHON_APP)
    crashed = wait_for(tool, run, lambda info: info.state is ServerState.CRASHED, "crashed")
    assert crashed.last_error is not None
    error = crashed.last_error
    assert (error.type, error.message) == ("KeyError", "'missing'")
    assert (error.file, error.line) == (str(project / "views.py"), 4)


def test_a_child_exiting_with_an_error_status_is_crashed_with_how_it_ended(
    project: Path, tool: Client, start_run: StartRun
) -> None:
    write_app(project)
    (project / "app.py").write_text("import sys\nimport greeting\nsys.exit(4)\n")
    run = start_run(PYTHON_APP)
    crashed = wait_for(tool, run, lambda info: info.state is ServerState.CRASHED, "crashed")
    assert crashed.last_error is not None
    assert (crashed.last_error.type, crashed.last_error.message) == (
        "Exited",
        "exited with code 4",
    )


@pytest.mark.parametrize("options", [[], ["--socket", "127.0.0.1:0"]], ids=["port", "socket"])
def test_a_request_made_right_after_ready_is_answered_by_the_new_code(
    project: Path, tool: Client, start_run: StartRun, options: list[str]
) -> None:
    write_app(project)
    run = start_run(PYTHON_APP, *options)
    if options:
        run.port = int(run.wait_for_log(r"listening on 127\.0\.0\.1:(\d+)").group(1))
    wait_for(tool, run, lambda info: info.state is ServerState.READY, "ready")
    began = time.monotonic()
    for attempt in range(READY_TRIES):
        edited = time.time()
        set_greeting(project, f"v{attempt}")
        wait_for(tool, run, state_after(ServerState.READY, edited), f"ready after edit {attempt}")
        answer = get(run.url)
        starts = run.starts()
        assert answer == f"v{attempt} from {starts[-1]}", (attempt, answer, run.log())
    print(
        f"{READY_TRIES} restarts, each answered by the new code: {time.monotonic() - began:.1f} s"
    )


@pytest.mark.parametrize("options", [[], ["--socket", "127.0.0.1:0"]], ids=["port", "socket"])
def test_uvicorn_is_ready_only_once_it_answers_with_the_new_code(
    project: Path, tool: Client, start_run: StartRun, options: list[str]
) -> None:
    write_app(project, ASGI_APP)
    server = [
        str(VENV_BIN / "uvicorn"),
        "app:app",
        *(["--fd", "3"] if options else ["--port", "{port}"]),
    ]
    run = start_run(server, *options)
    if options:
        run.port = int(run.wait_for_log(r"listening on 127\.0\.0\.1:(\d+)").group(1))
    wait_for(tool, run, lambda info: info.state is ServerState.READY, "ready")
    for attempt in range(max(1, READY_TRIES // 10)):
        edited = time.time()
        set_greeting(project, f"v{attempt}")
        wait_for(tool, run, state_after(ServerState.READY, edited), f"ready after edit {attempt}")
        assert get(run.url) == f"v{attempt} from {run.starts()[-1]}", run.log()


def test_reload_restarts_only_the_named_dev_server(
    project: Path, tool: Client, start_run: StartRun, tmp_path: Path
) -> None:
    write_app(project)
    web = start_run(PYTHON_APP, "--name", "web", START_LOG="web.log")
    worker = start_run(PYTHON_APP, "--name", "worker", START_LOG="worker.log")
    for run in (web, worker):
        wait_for(tool, run, lambda info: info.state is ServerState.READY, "ready")
    web_starts = (project / "web.log").read_text().split()
    asked = time.time()
    reload = subprocess.run(
        [sys.executable, "-m", "reloadd.client.cli", "reload", "--root", str(project), "web"],
        capture_output=True,
        text=True,
        timeout=RESPONSE_TIMEOUT,
        check=False,
    )
    assert reload.returncode == 0, reload.stderr
    ready = wait_for(tool, web, state_after(ServerState.READY, asked), "ready after reload")
    assert len((project / "web.log").read_text().split()) == len(web_starts) + 1
    assert "a restart was asked for ('reloadd reload')" in web.log()
    assert ready.last_reload is not None
    # Nothing may happen to the other one; only a quiet period can show that.
    time.sleep(QUIET_PERIOD)
    assert len((project / "worker.log").read_text().split()) == 1
    assert "restart" not in worker.log().split("is ready", 1)[1]


def test_stopped_when_reloadd_run_ends(project: Path, tool: Client, start_run: StartRun) -> None:
    write_app(project)
    run = start_run(PYTHON_APP)
    wait_for(tool, run, lambda info: info.state is ServerState.READY, "ready")
    run.signal(signal.SIGINT)  # as Ctrl+C
    assert run.wait() == 0
    # The registration is kept for the grace period, with its last state.
    stopped = wait_for(tool, run, lambda info: not info.connected, "disconnected")
    assert stopped.state is ServerState.STOPPED


def test_a_daemon_that_restarts_is_told_the_state_again(
    project: Path, daemon: DaemonProcess, start_run: StartRun, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RELOADD_BACKEND", daemon.backend)  # for the daemon the supervisor starts
    write_app(project)
    run = start_run(PYTHON_APP)
    with Client(project, name="lifecycle test", role=Role.TOOL, spawn=False) as tool:
        wait_for(tool, run, lambda info: info.state is ServerState.READY, "ready")
    daemon.kill()  # the supervisor's client starts another one and registers again
    try:
        deadline = time.monotonic() + RESPONSE_TIMEOUT
        info = None
        while info is None or info.state is not ServerState.READY:
            assert time.monotonic() < deadline, f"the new daemon shows {info!r}:\n{run.log()}"
            time.sleep(0.05)
            try:
                with Client(project, name="lifecycle test", role=Role.TOOL, spawn=False) as tool:
                    info = server_of(tool, run)
            except ReloaddError:
                continue  # not started yet
        assert len(run.starts()) == 1, "the child was not restarted for that"
    finally:
        run.signal(signal.SIGINT)
        run.wait()
        with Client(project, name="lifecycle test", role=Role.TOOL, spawn=False) as tool:
            tool.stop_daemon()
