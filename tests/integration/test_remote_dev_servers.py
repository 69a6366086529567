"""Django's runserver and ``reloadd run`` in a "container", reloading through a daemon over TCP.

The dev server runs in a mount namespace of its own (``unshare --mount``) where the
project is bind-mounted on another folder (``app/``, empty out here), as a Docker bind
mount does. It is configured by environment only: ``RELOADD_ENDPOINT``,
``RELOADD_SERVER_KEY``, ``RELOADD_CLIENT_KEY`` and ``RELOADD_PATH_MAP=APP=PROJECT``. The
daemon listens on the loopback interface; the namespace tests
(``test_remote_netns.py``) cross a real link.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from reloadd.client import Client, Crash, ReloaddError, Role, ServerState, spawn
from reloadd.client.events import ChangedEvent, StateChanged
from reloadd.protocol.endpoint import endpoint_for
from tests.daemon_process import DaemonProcess
from tests.django_project import DevServer, make_project, server_environment, view_source
from tests.integration.dev_server import DevServerProcess, set_greeting
from tests.integration.remote_setup import NetworkDaemon, make_keys, remote_environment
from tests.integration.run_apps import HTTP_APP
from tests.net import free_port

MOUNT = 'mount --bind "$1" "$2" && cd "$2" && shift 2 && exec "$@"'
"""In a new mount namespace: show the project at the app folder, go there, run the command."""


def in_container(project: Path, app: Path, command: list[str]) -> list[str]:
    """``command`` run in its own mount namespace, with ``project`` mounted on ``app``."""
    mount = ["unshare", "--mount", "--propagation", "private", "sh", "-c", MOUNT, "sh"]
    return [*mount, str(project), str(app), *command]


@pytest.fixture
def tcp_daemon(
    project: Path, tmp_path: Path, daemon_factory: list[DaemonProcess]
) -> Iterator[tuple[Path, dict[str, str]]]:
    """A daemon listening on loopback; the app folder and the environment of a remote client."""
    keys = make_keys(tmp_path / "keys")
    address = f"tcp://127.0.0.1:{free_port()}"
    daemon = NetworkDaemon(project, listen=address, log_path=tmp_path / "daemon.log")
    daemon_factory.append(daemon)
    daemon.start()
    app = tmp_path / "app"
    app.mkdir()
    server_key = keys.server.read_text().split('public-key = "')[1].split('"')[0]
    yield app, remote_environment(address, server_key, keys.allowed, f"{app}={project}")
    daemon.stop()


def remote_clients(project: Path) -> list[str]:
    """The names of the daemon's connected clients that came over the network (asked locally)."""
    with Client(project, name="test status", role=Role.TOOL, spawn=False) as client:
        return [info.name for info in client.status().clients if info.connected]


class ContainedDjango(DevServer):
    """``manage.py runserver`` in the mount namespace, at the app folder."""

    def __init__(self, project: Path, app: Path, log_path: Path, env: dict[str, str]) -> None:
        super().__init__(project, log_path, env=env)
        self.app = app

    def start(self) -> ContainedDjango:
        import subprocess

        command = [sys.executable, "manage.py", "runserver", self.address]
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                in_container(self.project, self.app, command),
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return self


def test_django_runserver_reloads_through_a_tcp_daemon_with_a_path_map(
    project: Path,
    tcp_daemon: tuple[Path, dict[str, str]],
    tmp_path: Path,
    servers: list[DevServer],
) -> None:
    app, remote = tcp_daemon
    make_project(project)
    env = server_environment(app, **remote)
    server = ContainedDjango(project, app, tmp_path / "runserver.log", env)
    servers.append(server.start())
    first = server.wait_ready()
    assert first.startswith("hello v1")
    server.wait_for_log("Watching for file changes with DaemonReloader")

    (project / "pages" / "views.py").write_text(view_source("hello v2 "))
    body = server.wait_for_page("/", lambda page: page.startswith("hello v2 "))
    assert server.pid_of(body) != server.pid_of(first)
    assert f"{app}/pages/views.py changed, reloading." in server.log(), server.log()
    assert "reloadd:" not in server.log()  # no fallback, no warning


def test_reloadd_run_reloads_through_a_tcp_daemon_with_a_path_map(
    project: Path,
    tcp_daemon: tuple[Path, dict[str, str]],
    tmp_path: Path,
    runs: list[DevServerProcess],
) -> None:
    app, remote = tcp_daemon
    (project / "app.py").write_text(HTTP_APP)
    set_greeting(project, "v1")
    command = [sys.executable, "-m", "reloadd.client.cli", "run", "--", sys.executable, "app.py"]
    run = DevServerProcess(
        project, tmp_path / "run.log", in_container(project, app, command), free_port()
    )
    runs.append(run)
    run.start(**remote)
    run.wait_for_response("v1")
    assert any("reloadd run" in name or "app.py" in name for name in remote_clients(project))

    set_greeting(project, "v2")
    run.wait_for_response("v2")
    run.wait_for_log(r"reloadd: greeting\.py changed; restarted")
    assert "cannot reach the daemon" not in run.log()


def test_a_remote_client_s_unmapped_files_are_polled_in_process(
    project: Path,
    tcp_daemon: tuple[Path, dict[str, str]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Files outside every mapping never reach the daemon; the client's own poller sees them."""
    app, remote = tcp_daemon
    for name, value in remote.items():
        monkeypatch.setenv(name, value)
    outside = tmp_path / "site-packages" / "lib.py"
    outside.parent.mkdir()
    outside.write_text("X = 1\n")
    with Client(tmp_path, name="unmapped test") as client:
        assert client.connected
        result = client.watch(files=[outside, app / "views.py"])
        assert result.files == 1  # only the mapped one was sent
        outside.write_text("X = 22\n")
        changed = client.wait(30)
    assert changed == [outside]


def test_a_client_with_a_missing_key_polls_and_says_which_variable(
    project: Path,
    tcp_daemon: tuple[Path, dict[str, str]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
) -> None:
    _, remote = tcp_daemon
    for name, value in remote.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("RELOADD_CLIENT_KEY")
    watched = tmp_path / "watched.py"
    watched.write_text("X = 1\n")
    with Client(tmp_path, name="no key") as client:
        assert client.state.value == "polling"
        client.watch(files=[watched])
        watched.write_text("X = 22\n")
        later = time.time() + 1  # past the fallback's start even on a coarse file clock
        os.utime(watched, (later, later))
        assert client.wait(30) == [watched]  # still reloads, by polling
    assert "RELOADD_CLIENT_KEY" in capfd.readouterr().err
    with pytest.raises(ReloaddError, match="RELOADD_CLIENT_KEY"):
        Client(tmp_path, name="no key", spawn=False)


def test_a_tcp_client_never_starts_a_daemon_and_polls_loudly_while_none_answers(
    project: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
) -> None:
    keys = make_keys(tmp_path / "keys")
    address = f"tcp://127.0.0.1:{free_port()}"  # nothing listens there
    for name, value in remote_environment(
        address, keys.server, keys.allowed, f"/app={project}"
    ).items():
        monkeypatch.setenv(name, value)
    with Client(project, name="alone") as client:
        assert client.state.value == "polling"
    assert f"no reloadd daemon answers at {address}" in capfd.readouterr().err
    assert spawn._SPAWNED == []
    runtime = endpoint_for(project).socket_path.parent
    assert not runtime.exists() or not list(runtime.glob("*.lock"))


def test_events_come_back_in_the_clients_paths(
    project: Path,
    tcp_daemon: tuple[Path, dict[str, str]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A tool following events over TCP sees a change and a crash's file in its own paths."""
    app, remote = tcp_daemon
    views = project / "views.py"
    views.write_text("x = 1\n")
    for name, value in remote.items():
        monkeypatch.setenv(name, value)
    with Client(app, name="web", spawn=False) as web, Client(app, name="ide", spawn=False) as ide:
        web.watch([app / "views.py"])
        events = ide.events(timeout=10.0)
        web.report_state(
            ServerState.CRASHED,
            error=Crash("SyntaxError", "invalid syntax", str(app / "views.py"), 1),
        )
        views.write_text("x = 2\n")
        seen: dict[str, object] = {}
        for event in events:
            if isinstance(event, StateChanged) and event.error is not None:
                seen["crash"] = event.error.file
            if isinstance(event, ChangedEvent):
                seen["changed"] = event.paths
            if len(seen) == 2:
                break
        # The daemon's own machine sees the crash in its paths (a local tool asks it).
        for name in remote:
            monkeypatch.delenv(name)
        with Client(project, name="status", role=Role.TOOL, spawn=False) as tool:
            (info,) = [info for info in tool.status().clients if info.name == "web"]
    assert seen == {"crash": str(app / "views.py"), "changed": (str(app / "views.py"),)}
    assert info.last_error is not None
    assert info.last_error.file == str(views)
