"""The daemon in odd environments: a state folder it cannot write, a Watchman that is not
there, a daemon killed before it could save."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from reloadd.client import Client
from reloadd.daemon import saved_state
from reloadd.daemon.saved_state import state_dir
from tests.daemon_process import DaemonProcess
from tests.integration.helpers import NOTIFY_TIMEOUT, cli_stop, edit, expect_changes


def test_unwritable_state_folder_is_logged_once_and_the_daemon_stops_cleanly(
    project: Path,
    backend_name: str,
    daemon_factory: list[DaemonProcess],
    tmp_path: Path,
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sock = request.getfixturevalue("watchman").sockpath if backend_name == "watchman" else None
    monkeypatch.setenv("HOME", "/dev/null")  # ~/.local/state cannot be created there
    monkeypatch.delenv("XDG_STATE_HOME")
    daemon = DaemonProcess(
        project, backend=backend_name, log_path=tmp_path / "daemon.log", watchman_sock=sock
    )
    daemon_factory.append(daemon)
    daemon.start()
    app = project / "app.py"
    app.write_text("x = 1\n")
    with Client(project, spawn=False) as client:
        client.watch(files=[app])
        for _ in range(2):  # clocks move, so the daemon tries to save its state (Watchman)
            edit(app)
            expect_changes(client, app)

    cli_stop(project)
    assert daemon.process is not None
    assert daemon.process.wait(10) == 0, daemon.log()
    assert not daemon.endpoint.socket_path.exists()
    log = daemon.log()
    assert "Traceback" not in log
    assert log.count("could not save the daemon state") == 1, log


@pytest.mark.parametrize("backend", ["auto", "watchman"])
def test_serve_with_a_watchman_socket_that_does_not_answer_fails_in_one_line(
    project: Path, tmp_path: Path, backend: str
) -> None:
    missing = "/nonexistent/sock"
    command = [sys.executable, "-m", "reloadd.client.cli", "serve", "--root", str(project)]
    serve = subprocess.run(
        [*command, "--backend", backend, "--watchman-sock", missing],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert serve.returncode != 0
    errors = [line for line in serve.stderr.splitlines() if line.startswith("reloadd:")]
    assert len(errors) == 1, serve.stderr
    assert f"--watchman-sock {missing}" in errors[0]
    assert "Traceback" not in serve.stderr
    assert "built-in watcher" not in serve.stderr


def test_new_roots_are_saved_at_once_so_a_killed_daemons_successor_resumes_them(
    project: Path, tmp_path: Path, daemon_factory: list[DaemonProcess]
) -> None:
    daemon = DaemonProcess(project, backend="builtin", log_path=tmp_path / "first.log")
    daemon_factory.append(daemon)
    daemon.start()
    app = project / "app.py"
    app.write_text("x = 1\n")
    state = state_dir() / f"{daemon.endpoint.socket_path.stem}.json"
    with Client(project, spawn=False) as client:
        client.watch(files=[app])
        deadline = time.monotonic() + NOTIFY_TIMEOUT
        while str(project) not in saved_state.load(state).roots:
            assert time.monotonic() < deadline, f"{state} never named {project}"
            time.sleep(0.05)
    daemon.kill()
    successor = DaemonProcess(project, backend="builtin", log_path=tmp_path / "second.log")
    daemon_factory.append(successor)
    successor.start()
    successor.wait_for_log(f"resumed watching {project}")
