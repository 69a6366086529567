"""``runserver`` reports its life to the daemon: starting, ready, crashed, stopped.

Real ``startproject`` projects, real ``manage.py runserver`` processes and a real daemon;
the state is read as ``reloadd status`` reads it (:mod:`tests.integration.server_states`).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from reloadd.client import Client, Role
from reloadd.client.events import ChangedEvent, StateChanged
from reloadd.protocol import ServerState
from tests.daemon_process import DaemonProcess
from tests.django_project import DevServer, make_project, server_environment, view_source
from tests.integration.helpers import QUIET_PERIOD
from tests.integration.server_states import STATE_TIMEOUT, StateWatch

READY_TRIES = int(os.environ.get("RELOADD_TEST_READY_TRIES", "100"))
"""How many edits the readiness test makes: ``RELOADD_TEST_READY_TRIES``, 100 unless set (and
in CI). Read when the module is imported: the tests' environment has no ``RELOADD_`` variable."""


@pytest.fixture
def backend_name() -> str:
    """About the integration, not the watcher: the built-in one suffices."""
    return "builtin"


@pytest.fixture
def django_project(project: Path) -> Path:
    """A generated Django project with ``reloadd.client.django`` installed."""
    return make_project(project)


@pytest.fixture
def server(daemon: DaemonProcess, django_project: Path, tmp_path: Path) -> Iterator[DevServer]:
    """``runserver`` for the project, not started yet; stopped after the test, before the
    daemon (stopped first, it would be started again by the server's client)."""
    started = DevServer(
        django_project, tmp_path / "runserver.log", env=server_environment(django_project)
    )
    yield started
    started.stop()


@pytest.fixture
def states(daemon: DaemonProcess, django_project: Path, server: DevServer) -> Iterator[StateWatch]:
    """The state of ``server`` as the daemon shows it."""
    with StateWatch(django_project, server.address) as watch:
        yield watch


def edit_view(project: Path, message: str) -> None:
    """Save ``pages/views.py`` with a new index message."""
    (project / "pages" / "views.py").write_text(view_source(message))


def broken_view(project: Path) -> tuple[Path, int]:
    """Save ``pages/views.py`` with a syntax error at its end; return its path and line."""
    views = project / "pages" / "views.py"
    source = [*view_source("broken").rstrip("\n").split("\n"), "", "", "def broken(:"]
    views.write_text("\n".join(source) + "\n")
    return views, len(source)


def page(server: DevServer) -> str:
    """GET ``/`` once, at once: the body of a 200 response (anything else fails)."""
    answer = server.get("/", timeout=10)
    assert answer is not None, f"nothing answered; log:\n{server.log()[-3000:]}"
    assert answer[0] == 200, answer
    return answer[1]


def wait_gone(pid: int, timeout: float = 10.0) -> None:
    """Wait until process ``pid`` no longer runs."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"process {pid} still runs after {timeout} s")
        time.sleep(0.01)


def test_an_edit_goes_starting_then_ready_and_ready_serves_the_new_code(
    django_project: Path, server: DevServer, states: StateWatch
) -> None:
    server.start()
    first = states.wait_for_state(ServerState.READY, check=server.check_running)
    body = page(server)
    assert body.startswith("hello v1")
    assert server.pid_of(body) == first.pid
    edit_view(django_project, "hello v2 ")
    second = states.wait_for_state(
        ServerState.READY, new_after=first.pid, check=server.check_running
    )
    body = page(server)
    assert body.startswith("hello v2 ")
    assert server.pid_of(body) == second.pid
    assert states.seen[-2:] == [(second.pid, ServerState.STARTING), (second.pid, ServerState.READY)]


def assert_standin_page(server: DevServer, filename: str) -> None:
    """While the URLconf cannot be imported, the kept socket answers with the 503 page."""
    answer = server.get("/")
    assert answer is not None
    status, body = answer
    assert status == 503
    assert f"{filename}:" in body
    assert "SyntaxError" in body


def test_a_syntax_error_is_a_crash_until_the_fix_makes_it_ready(
    django_project: Path, server: DevServer, states: StateWatch
) -> None:
    server.start()
    first = states.wait_for_state(ServerState.READY, check=server.check_running)
    views, line = broken_view(django_project)
    crashed = states.wait_for_state(
        ServerState.CRASHED, new_after=first.pid, check=server.check_running
    )
    error = crashed.last_error
    assert error is not None
    assert (error.type, error.file, error.line) == ("SyntaxError", str(views), line)
    assert_standin_page(server, "views.py")
    edit_view(django_project, "hello fixed ")
    fixed = states.wait_for_state(
        ServerState.READY, new_after=crashed.pid, check=server.check_running
    )
    body = page(server)
    assert body.startswith("hello fixed ")
    assert server.pid_of(body) == fixed.pid


def test_a_server_that_starts_broken_is_a_crash(
    django_project: Path, server: DevServer, states: StateWatch
) -> None:
    views, line = broken_view(django_project)
    server.start()
    crashed = states.wait_for_state(ServerState.CRASHED, check=server.check_running)
    assert crashed.last_error is not None
    assert (crashed.last_error.file, crashed.last_error.line) == (str(views), line)
    assert_standin_page(server, "views.py")


def test_events_show_the_edit_then_starting_then_ready_with_its_duration(
    django_project: Path, server: DevServer, states: StateWatch
) -> None:
    server.start()
    first = states.wait_for_state(ServerState.READY, check=server.check_running)
    with Client(django_project, name="test events", role=Role.TOOL, spawn=False) as tool:
        seen = list(tool.events(timeout=0.5))  # the snapshot: the server is ready
        assert StateChanged in {type(event) for event in seen}
        edit_view(django_project, "hello v2 ")
        states_of_server: list[StateChanged] = []
        changed: list[ChangedEvent] = []
        deadline = time.monotonic() + STATE_TIMEOUT
        while not states_of_server or states_of_server[-1].state is not ServerState.READY:
            assert time.monotonic() < deadline, (changed, states_of_server)
            for event in tool.events(timeout=1.0):
                if isinstance(event, ChangedEvent):
                    changed.append(event)
                elif isinstance(event, StateChanged) and server.address in event.client:
                    states_of_server.append(event)
                    break
            server.check_running()
    views = str(django_project / "pages" / "views.py")
    assert any(views in event.paths for event in changed), changed
    assert [event.state for event in states_of_server] == [ServerState.STARTING, ServerState.READY]
    ready = states_of_server[-1]
    assert ready.pid != first.pid
    assert ready.duration_ms is not None
    assert page(server).startswith("hello v2 ")


def test_reload_restarts_the_server_named_and_no_other(
    django_project: Path, server: DevServer, states: StateWatch, tmp_path: Path
) -> None:
    other = DevServer(
        django_project, tmp_path / "other.log", env=server_environment(django_project)
    )
    try:
        server.start()
        other.start()
        first = states.wait_for_state(ServerState.READY, check=server.check_running)
        with StateWatch(django_project, other.address) as other_states:
            second = other_states.wait_for_state(ServerState.READY, check=other.check_running)
            reload = subprocess.run(
                [str(Path(sys.executable).parent / "reloadd"), "reload", first.name],
                cwd=django_project,
                capture_output=True,
                text=True,
                timeout=30,
                check=False,
            )
            assert reload.returncode == 0, reload.stderr
            again = states.wait_for_state(
                ServerState.READY, new_after=first.pid, check=server.check_running
            )
            assert server.pid_of(page(server)) == again.pid
            assert "reloadd reload" in server.log()
            # Nothing may happen to the other; only a quiet period can show that.
            time.sleep(QUIET_PERIOD)
            unchanged = other_states.current()
            assert unchanged is not None
            assert (unchanged.pid, unchanged.state, unchanged.state_since) == (
                second.pid,
                ServerState.READY,
                second.state_since,
            )
    finally:
        other.stop()


@pytest.mark.parametrize("how", ["ctrl-c", "sigterm"])
def test_ctrl_c_or_sigterm_is_stopped(
    how: str, django_project: Path, server: DevServer, states: StateWatch
) -> None:
    server.start()
    ready = states.wait_for_state(ServerState.READY, check=server.check_running)
    assert server.process is not None
    if how == "ctrl-c":  # a terminal's Ctrl-C: SIGINT to the whole foreground group
        os.killpg(server.process.pid, signal.SIGINT)
    else:  # the serving process is told to stop (its parent then exits with it)
        os.kill(ready.pid, signal.SIGTERM)
    server.process.wait(10)
    wait_gone(ready.pid)
    info = states.wait_until(lambda info: info.state is ServerState.STOPPED, "stopped")
    assert info.pid == ready.pid


def test_a_request_made_right_after_ready_is_answered_by_the_new_code(
    django_project: Path, server: DevServer, states: StateWatch
) -> None:
    """The readiness target of issue 15, in ``RELOADD_TEST_READY_TRIES`` tries (100 by default)."""
    tries = READY_TRIES
    server.start()
    pid = states.wait_for_state(ServerState.READY, check=server.check_running).pid
    started = time.monotonic()
    for attempt in range(tries):
        token = f"token {attempt} "
        edit_view(django_project, token)
        pid = states.wait_for_state(
            ServerState.READY, new_after=pid, check=server.check_running
        ).pid
        body = page(server)
        assert body.startswith(token), (attempt, body)
        assert server.pid_of(body) == pid
    elapsed = time.monotonic() - started
    print(
        f"{tries} edits -> ready -> new page: {elapsed:.1f} s ({elapsed / max(tries, 1):.2f} s each)"
    )
