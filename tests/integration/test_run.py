"""``reloadd run -- CMD`` with real processes: a tiny HTTP app, uvicorn, ``--socket``, stopping.

Each test writes a small app into the daemon's project folder, starts
``reloadd run`` as a subprocess in its own session (its log in ``tmp_path``),
and talks HTTP to the child. Every app appends its pid to ``starts.log`` when
it starts, which is how restarts are counted. Teardown signals the
supervisor's group and every child's group by pid.
"""

from __future__ import annotations

import os
import signal
import socket
import sys
import time
from pathlib import Path

import pytest

from reloadd.client import Client, Role
from reloadd.protocol.endpoint import endpoint_for
from tests.daemon_process import DaemonProcess
from tests.integration.dev_server import (
    RESPONSE_TIMEOUT,
    VENV_BIN,
    StartRun,
    get,
    live_group_members,
    request,
    set_greeting,
)
from tests.integration.helpers import QUIET_PERIOD
from tests.integration.run_apps import ASGI_APP, HTTP_APP, PYTHON_APP, write_app
from tests.net import free_port


@pytest.fixture
def backend_name() -> str:
    """Most of these tests are about the supervisor: the built-in watcher suffices."""
    return "builtin"


# -- the tests ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "backend_name", [pytest.param("watchman", marks=pytest.mark.watchman), "builtin"]
)
def test_edit_of_an_imported_module_restarts_and_an_unrelated_file_does_not(
    daemon: DaemonProcess, project: Path, start_run: StartRun
) -> None:
    write_app(project)
    run = start_run(PYTHON_APP)
    run.wait_for_response("v1")
    set_greeting(project, "v2")
    answer = run.wait_for_response("v2")
    assert len(run.starts()) == 2
    assert answer.endswith(f"from {run.starts()[1]}")
    line = run.wait_for_log(r"reloadd: greeting\.py changed; restarted in (\d+) ms")
    assert int(line.group(1)) < 2000
    # One registration, the supervisor's, across restarts; the children never connect.
    assert run.process is not None
    with Client(project, name="test probe", role=Role.TOOL, spawn=False) as probe:
        servers = [c for c in probe.status().clients if c.role is Role.SERVER]
    assert [(c.pid, c.connected) for c in servers] == [(run.process.pid, True)]
    assert servers[0].files > 10

    (project / "unrelated.py").write_text("X = 2\n")
    (project / "notes.txt").write_text("not imported\n")
    # Nothing may happen now; only a quiet period can show that (no signal to wait on).
    time.sleep(QUIET_PERIOD)
    assert len(run.starts()) == 2, run.log()
    assert run.log().count("restarted in") == 1


def test_a_child_that_fails_at_start_waits_for_a_fix_instead_of_looping(
    daemon: DaemonProcess, project: Path, start_run: StartRun
) -> None:
    write_app(project)
    (project / "greeting.py").write_text('TEXT = "unterminated\n')
    run = start_run(PYTHON_APP)
    run.wait_for_log(r"python app\.py exited with code 1 .*\(the traceback ends in greeting\.py\)")
    # Nothing may happen now; only a quiet period can show that (no signal to wait on).
    time.sleep(QUIET_PERIOD * 1.5)
    assert run.starts() == [], "the broken app must not be restarted in a loop"
    assert "SyntaxError" in run.log()
    assert "waiting for a change" in run.log()

    set_greeting(project, "fixed")
    run.wait_for_response("fixed")
    assert len(run.starts()) == 1


def test_a_crash_at_start_that_the_framework_catches_still_watches_the_failing_file(
    daemon: DaemonProcess, project: Path, start_run: StartRun
) -> None:
    write_app(project)
    (project / "app.py").write_text(
        "import sys\ntry:\n    import broken\nexcept SyntaxError:\n    sys.exit(2)\n" + HTTP_APP
    )
    (project / "broken.py").write_text("def (:\n")
    run = start_run(PYTHON_APP)
    run.wait_for_log("exited with code 2")
    (project / "broken.py").write_text("OK = True\n")
    run.wait_for_response("v1")


def test_exit_code_3_asks_for_a_restart(
    daemon: DaemonProcess, project: Path, start_run: StartRun
) -> None:
    write_app(project)
    (project / "app.py").write_text(
        "import os, sys\n"
        "with open('starts.log', 'a') as log:\n"
        "    log.write(f'{os.getpid()}\\n')\n"
        "with open('starts.log') as log:\n"
        "    if len(log.read().split()) < 3:\n"
        "        sys.exit(3)\n" + HTTP_APP
    )
    run = start_run(PYTHON_APP, START_LOG=os.devnull)
    run.wait_for_response("v1")
    assert len(run.starts()) == 3
    assert run.log().count("exited with code 3 (a restart request)") == 2


def test_a_child_that_always_asks_for_a_restart_is_not_restarted_in_a_loop(
    daemon: DaemonProcess, project: Path, start_run: StartRun
) -> None:
    write_app(project)
    (project / "app.py").write_text(
        "import os, sys\n"
        "import greeting\n"
        "with open('starts.log', 'a') as log:\n"
        "    log.write(f'{os.getpid()}\\n')\n"
        "sys.exit(3)\n"
    )
    run = start_run(PYTHON_APP)
    run.wait_for_log("asked for a restart 5 times in a row")
    # Nothing may happen now; only a quiet period can show that (no signal to wait on).
    time.sleep(QUIET_PERIOD)
    assert len(run.starts()) == 5
    set_greeting(project, "v2")
    run.wait_for_starts(6)


def test_a_change_during_a_restart_is_not_lost(
    daemon: DaemonProcess, project: Path, start_run: StartRun
) -> None:
    write_app(project)
    run = start_run(PYTHON_APP, APP_START_DELAY="1.0")
    run.wait_for_response("v1")
    set_greeting(project, "v2")
    run.wait_for_starts(2)  # the second child has read v2 and sleeps before serving
    set_greeting(project, "v3")
    run.wait_for_response("v3")
    assert len(run.starts()) == 3


def test_a_module_imported_later_is_registered_too(
    daemon: DaemonProcess, project: Path, start_run: StartRun
) -> None:
    write_app(project)
    (project / "later.py").write_text("TEXT = 'later v1'\n")
    run = start_run(PYTHON_APP)
    run.wait_for_response("v1")
    assert get(run.url + "later") == "later v1"
    (project / "later.py").write_text("TEXT = 'later v2'\n")
    run.wait_for_starts(2)
    deadline = time.monotonic() + RESPONSE_TIMEOUT
    while get(run.url + "later") != "later v2":
        assert time.monotonic() < deadline, run.log()
        time.sleep(0.05)


def test_a_command_that_is_not_python_restarts_on_its_watch_globs(
    daemon: DaemonProcess, project: Path, start_run: StartRun
) -> None:
    (project / "conf").mkdir()
    (project / "conf" / "a.ini").write_text("a=1\n")
    script = "echo $$ >> starts.log; exec sleep 60"
    run = start_run(["sh", "-c", script], "--watch", "conf/*.ini", "--ignore", "*.tmp")
    run.wait_for_starts(1)
    (project / "conf" / "a.ini").write_text("a=2\n")
    run.wait_for_starts(2)
    run.wait_for_log(r"conf/a\.ini changed; restarted")
    (project / "conf" / "b.tmp").write_text("ignored\n")
    (project / "conf" / "notes.txt").write_text("not matched\n")
    # Nothing may happen now; only a quiet period can show that (no signal to wait on).
    time.sleep(QUIET_PERIOD)
    assert len(run.starts()) == 2


def test_uvicorn_app_restarts(daemon: DaemonProcess, project: Path, start_run: StartRun) -> None:
    write_app(project, ASGI_APP)
    run = start_run([str(VENV_BIN / "uvicorn"), "app:app", "--port", "{port}"])
    run.wait_ready()
    assert run.wait_for_response("v1")
    set_greeting(project, "v2")
    run.wait_for_reload("v2")
    assert len(run.starts()) == 2


def test_socket_keeps_connections_waiting_during_a_restart(
    daemon: DaemonProcess, project: Path, start_run: StartRun
) -> None:
    write_app(project)
    run = start_run(PYTHON_APP, "--socket", "127.0.0.1:0", APP_START_DELAY="1.0")
    run.port = int(run.wait_for_log(r"listening on 127\.0\.0\.1:(\d+)").group(1))
    run.wait_for_response("v1")
    set_greeting(project, "v2")
    first, second = run.wait_for_starts(2)
    assert not live_group_members(first), "the old child is gone before the new one starts"
    # The new child sleeps a second before it accepts: this connection waits in the backlog.
    began = time.monotonic()
    answer = get(run.url, timeout=10.0)
    assert answer == f"v2 from {second}"
    assert time.monotonic() - began > 0.3, "the request was made while the child was starting"


def test_uvicorn_takes_the_socket_with_fd_3(
    daemon: DaemonProcess, project: Path, start_run: StartRun
) -> None:
    write_app(project, ASGI_APP)
    run = start_run([str(VENV_BIN / "uvicorn"), "app:app", "--fd", "3"], "--socket", "127.0.0.1:0")
    run.port = int(run.wait_for_log(r"listening on 127\.0\.0\.1:(\d+)").group(1))
    run.wait_for_response("v1")
    set_greeting(project, "v2")
    run.wait_for_response("v2")


def test_sigterm_stops_the_whole_group(
    daemon: DaemonProcess, project: Path, start_run: StartRun
) -> None:
    write_app(project)
    (project / "app.py").write_text(
        "import subprocess, sys\n"
        "subprocess.Popen(['sleep', '60'])\n"
        "subprocess.Popen([sys.executable, '-c', 'import signal, time; "
        "signal.signal(signal.SIGTERM, signal.SIG_IGN); open(\\'ignoring\\', \\'w\\').close(); "
        "time.sleep(60)'])\n" + HTTP_APP
    )
    run = start_run(PYTHON_APP, "--stop-timeout", "0.5")
    run.wait_for_response("v1")
    (child,) = run.starts()
    deadline = time.monotonic() + 10
    # Until the second child ignores SIGTERM (a SIGTERM before would end it: no SIGKILL needed).
    while len(live_group_members(child)) < 3 or not (project / "ignoring").exists():
        assert time.monotonic() < deadline, "the app did not start its two children"
        time.sleep(0.02)
    run.signal(signal.SIGTERM)
    assert run.wait() == 0
    assert live_group_members(child) == []
    assert "SIGTERM: stopping" in run.log()
    assert "killed its process group" in run.log()


def test_sigint_stops_the_child_and_exits(
    daemon: DaemonProcess, project: Path, start_run: StartRun
) -> None:
    write_app(project)
    run = start_run(PYTHON_APP)
    run.wait_for_response("v1")
    run.signal(signal.SIGINT)
    assert run.wait() == 0
    assert live_group_members(run.starts()[0]) == []


def test_a_command_that_cannot_run_is_reported(
    daemon: DaemonProcess, project: Path, start_run: StartRun
) -> None:
    run = start_run(["./no-such-command"])
    assert run.wait() == 127
    assert "cannot run './no-such-command'" in run.log()


@pytest.mark.parametrize("options", [[], ["--socket", "127.0.0.1:0"]])
def test_a_command_not_found_exits_127_in_one_line_and_starts_no_daemon(
    project: Path, start_run: StartRun, options: list[str]
) -> None:
    run = start_run(["no-such-command-here", "--port", "1"], *options)
    assert run.wait() == 127, run.log()
    lines = run.log().splitlines()
    assert lines == [
        "reloadd: cannot run 'no-such-command-here': command not found "
        "(no such program on PATH); check its name"
    ]
    endpoint = endpoint_for(project)
    assert not endpoint.log_path.exists(), "no daemon was started for a command that cannot run"
    assert not endpoint.socket_path.exists()


@pytest.mark.parametrize(("script", "status"), [("true", 0), ("exit 7", 7), ("kill -9 $$", 137)])
def test_a_command_that_nothing_can_restart_exits_with_its_status(
    daemon: DaemonProcess, project: Path, start_run: StartRun, script: str, status: int
) -> None:
    run = start_run(["sh", "-c", script])
    assert run.wait() == status, run.log()
    assert "nothing can restart it" in run.log()


def test_a_child_that_exits_0_by_itself_waits_for_a_change_like_a_crash(
    daemon: DaemonProcess, project: Path, start_run: StartRun
) -> None:
    write_app(project)
    (project / "app.py").write_text(
        "import os\nimport greeting\n"
        "with open('starts.log', 'a') as log:\n"
        "    log.write(f'{os.getpid()}\\n')\n"
    )
    run = start_run(PYTHON_APP)
    run.wait_for_log(r"python app\.py exited with code 0 after .*; waiting for a change")
    assert run.process is not None
    assert run.process.poll() is None
    set_greeting(project, "v2")
    run.wait_for_starts(2)
    run.wait_for_log(r"greeting\.py changed; started again")


def test_while_the_child_is_down_the_socket_answers_503_naming_the_error(
    daemon: DaemonProcess, project: Path, start_run: StartRun
) -> None:
    write_app(project)
    (project / "greeting.py").write_text('TEXT = "unterminated\n')
    run = start_run(PYTHON_APP, "--socket", "127.0.0.1:0")
    run.port = int(run.wait_for_log(r"listening on 127\.0\.0\.1:(\d+)").group(1))
    run.wait_for_log("waiting for a change")
    answer = request(run.url, timeout=10.0)
    assert answer is not None, "the request got no answer while the child was down"
    status, page = answer
    assert status == 503
    assert "python app.py exited with code 1" in page
    assert "greeting.py:1: SyntaxError: unterminated string literal" in page
    assert "restarts it at the next change" in page
    # Not HTTP: closed, not left hanging.
    with socket.create_connection(("127.0.0.1", run.port), timeout=10.0) as raw:
        raw.sendall(b"\x16\x03\x01 binary hello\r\n\r\n")
        assert raw.recv(100) == b""

    set_greeting(project, "fixed")
    run.wait_for_response("fixed")
    assert request(run.url, timeout=10.0) == (200, f"fixed from {run.starts()[0]}")


def test_a_child_binding_the_held_port_itself_is_told_to_take_the_socket(
    daemon: DaemonProcess, project: Path, start_run: StartRun
) -> None:
    write_app(project)
    port = free_port()
    # As `flask run --port P` would: the app ignores fd 3 and binds the port it is given.
    script = f"import os; os.environ['PORT'] = '{port}'; del os.environ['LISTEN_PID']; import app"
    run = start_run([sys.executable, "-c", script, "--port", str(port)], "--socket", str(port))
    run.port = port
    run.wait_for_log("waiting for a change")
    hint = run.wait_for_log(r"reloadd: the command binds port \d+ itself.*").group(0)
    assert f"port {port}" in hint
    assert "docs/run.md" in hint
    answer = request(run.url, timeout=10.0)
    assert answer is not None
    assert answer[0] == 503
    assert "Address already in use" in answer[1]
    assert "take the socket (fd 3)" in answer[1]
