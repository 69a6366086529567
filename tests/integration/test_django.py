"""Django's ``runserver`` reloading through the daemon, with real Django processes.

Each test generates a project with ``django-admin startproject`` (plus an app
``pages``) in the daemon's project folder, starts ``manage.py runserver`` on a
free loopback port and requests pages. The reloader's contract (Django's own
reloader tests, run against a real daemon) is in ``test_django_contract.py``.
"""

from __future__ import annotations

import os
import statistics
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import zmq

from reloadd.client import Client, Role
from reloadd.protocol import ClientInfo, Error, ErrorCode, Hello, decode, encode
from reloadd.protocol.endpoint import endpoint_for
from tests.daemon_process import DaemonProcess
from tests.django_project import (
    RELOAD_TIMEOUT,
    DevServer,
    make_project,
    server_environment,
    view_source,
)
from tests.integration.helpers import QUIET_PERIOD

REGISTER_TIMEOUT = 30.0
"""Seconds a server may take to register its files (the first one makes the daemon crawl)."""

RESAVE_INTERVAL = 1.5
"""Seconds between two saves of a view while Django's StatReloader may not have started."""


class VersionMismatchedDaemon:
    """A socket on a project's endpoint that answers every ``hello`` with ``version_mismatch``.

    What a client meets when a daemon of another reloadd version runs; real ZeroMQ, in a
    thread of the test.
    """

    def __init__(self, root: Path) -> None:
        self.endpoint = endpoint_for(root)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._context: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
        self._socket = self._context.socket(zmq.ROUTER)
        self._socket.setsockopt(zmq.LINGER, 0)

    def __enter__(self) -> VersionMismatchedDaemon:
        self.endpoint.socket_path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        old_umask = os.umask(0o177)  # 0600, as a real daemon binds it
        try:
            self._socket.bind(self.endpoint.address)
        finally:
            os.umask(old_umask)
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._socket.close()
        self._context.term()

    def _serve(self) -> None:
        while not self._stop.is_set():
            if not self._socket.poll(50):
                continue
            identity, data = self._socket.recv_multipart()
            hello = decode(data)
            if isinstance(hello, Hello):
                refusal = Error(
                    re=hello.id,
                    code=ErrorCode.VERSION_MISMATCH,
                    message=f"the client speaks protocol {hello.protocol}, this daemon 999",
                )
                self._socket.send_multipart([identity, encode(refusal)])


@pytest.fixture
def django_project(project: Path) -> Path:
    """A generated Django project with ``reloadd.client.django`` installed, in the daemon's root."""
    return make_project(project)


@pytest.fixture
def start_server(servers: list[DevServer], tmp_path: Path) -> Callable[..., DevServer]:
    """Start ``runserver`` in a project: ``start_server(project, **extra_environment)``."""

    def start(project: Path, **env: str) -> DevServer:
        log_path = tmp_path / f"runserver-{len(servers)}.log"
        server = DevServer(project, log_path, env=server_environment(project, **env))
        servers.append(server)
        return server.start()

    return start


def clients_of(root: Path) -> list[ClientInfo]:
    """The daemon's clients, as ``reloadd status`` lists them."""
    # A generous handshake: the daemon answers no one while it crawls a newly watched root.
    with Client(
        root, name="test status", role=Role.TOOL, spawn=False, handshake_timeout=REGISTER_TIMEOUT
    ) as client:
        return list(client.status().clients)


def wait_registered(root: Path, server: DevServer, *, more_than: int = 0) -> ClientInfo:
    """Wait until ``server`` is connected with more than ``more_than`` files; return its entry."""
    deadline = time.monotonic() + REGISTER_TIMEOUT
    while True:
        entries = [
            info
            for info in clients_of(root)
            if server.address in info.name and info.connected and info.files > more_than
        ]
        if entries:
            return entries[0]
        if time.monotonic() > deadline:
            pytest.fail(f"{server.address} did not register its files; log:\n{server.log()}")
        server.check_running()
        time.sleep(0.05)


def starts_with(prefix: str) -> Callable[[str], bool]:
    """A page test: the body starts with ``prefix``."""
    return lambda body: body.startswith(prefix)


def edit_view(project: Path, message: str) -> None:
    """Save ``pages/views.py`` with a new index message."""
    (project / "pages" / "views.py").write_text(view_source(message))


# -- runserver ----------------------------------------------------------------------------------


def test_edit_a_view_and_the_new_response_is_served(
    daemon: DaemonProcess, django_project: Path, start_server: Callable[..., DevServer]
) -> None:
    server = start_server(django_project)
    first = server.wait_ready()
    assert first.startswith("hello v1")
    server.wait_for_log("Watching for file changes with DaemonReloader")
    wait_registered(django_project, server, more_than=100)
    pids = {server.pid_of(first)}
    latencies = []
    for version in range(2, 5):
        message = f"hello v{version} "
        started = time.monotonic()
        edit_view(django_project, message)
        body = server.wait_for_page("/", starts_with(message))
        latencies.append(time.monotonic() - started)
        pids.add(server.pid_of(body))
    assert len(pids) == 4, "each edit restarts the server process"
    # Nothing may happen now; only a quiet period can show that (no signal to wait on).
    time.sleep(QUIET_PERIOD)
    assert server.log().count("changed, reloading.") == 3, server.log()
    assert "reloadd:" not in server.log()
    print(
        f"edit -> new response through reloadd ({daemon.backend}): "
        f"median {statistics.median(latencies) * 1000:.0f} ms of {len(latencies)}"
    )


@pytest.mark.parametrize("backend_name", ["builtin"])
def test_templates_and_translations_change_without_a_restart(
    daemon: DaemonProcess, django_project: Path, start_server: Callable[..., DevServer]
) -> None:
    (django_project / "locale").mkdir()  # watched by Django's translation reloader
    server = start_server(django_project)
    body = server.wait_ready("/page/")
    assert body.startswith("template v1")
    pid = server.pid_of(body)
    wait_registered(django_project, server, more_than=100)
    template = django_project / "pages" / "templates" / "pages" / "page.html"
    template.write_text("template v2 pid={{ pid }}\n")
    body = server.wait_for_page("/page/", lambda body: body.startswith("template v2"))
    assert server.pid_of(body) == pid
    # A compiled translation: Django's receiver clears its caches, nothing restarts.
    mo = django_project / "locale" / "fr" / "LC_MESSAGES" / "django.mo"
    mo.parent.mkdir(parents=True)
    mo.write_bytes(b"\0")
    daemon.wait_for_log(str(mo))  # the daemon told the server
    # Nothing may happen now; only a quiet period can show that (no signal to wait on).
    time.sleep(QUIET_PERIOD)
    assert server.pid_of(server.wait_ready("/page/")) == pid
    # A view change still restarts it.
    edit_view(django_project, "hello v2")
    body = server.wait_for_page("/", lambda body: body.startswith("hello v2"))
    assert server.pid_of(body) != pid
    assert server.log().count("changed, reloading.") == 1, server.log()


@pytest.mark.parametrize("backend_name", ["builtin"])
def test_a_syntax_error_in_a_view_is_watched_until_it_is_fixed(
    daemon: DaemonProcess, django_project: Path, start_server: Callable[..., DevServer]
) -> None:
    views = django_project / "pages" / "views.py"
    views.write_text(view_source("hello v1") + "\ndef broken(:\n")
    server = start_server(django_project)
    server.wait_for_log("SyntaxError")
    server.wait_for_log("Watching for file changes with DaemonReloader")
    page = server.get("/")
    assert page is not None
    assert page[0] == 503, "the stand-in's page while the URLconf is broken"
    assert "SyntaxError" in page[1]
    wait_registered(django_project, server, more_than=100)
    # views.py is in no module list but in Django's _error_files, so it is watched: fixing it
    # restarts the server (even if the fix comes before the next scan registers the file).
    edit_view(django_project, "hello fixed")
    body = server.wait_for_page("/", lambda body: body.startswith("hello fixed"))
    assert "pid=" in body


@pytest.mark.parametrize("backend_name", ["builtin"])
def test_two_servers_share_one_daemon_and_only_the_one_that_imported_a_module_restarts(
    daemon: DaemonProcess, django_project: Path, start_server: Callable[..., DevServer]
) -> None:
    first = start_server(django_project)
    first_pid = first.pid_of(first.wait_ready())
    before = wait_registered(django_project, first, more_than=100)
    # Started once the daemon watches the project, site-packages and the standard library:
    # while it crawls a new root it answers no one, and a handshake may time out.
    second = start_server(django_project)
    second_pid = second.pid_of(second.wait_ready())
    wait_registered(django_project, second, more_than=100)
    # Both in `reloadd status`, with their file counts.
    listed = {info.pid: info for info in clients_of(django_project) if info.connected}
    for server, pid in ((first, first_pid), (second, second_pid)):
        info = listed.get(pid)
        assert info is not None, (listed, server.log(), daemon.log())
        assert server.address in info.name
        assert info.role is Role.SERVER
        assert info.files > 100, (listed, server.log(), daemon.log())

    # Only the first imports pages/lazy_module.py, during a request; it is registered after it.
    assert first.wait_for_page("/lazy/", lambda body: True).startswith("lazy v1")
    wait_registered(django_project, first, more_than=before.files)
    (django_project / "pages" / "lazy_module.py").write_text('VALUE = "lazy v2!"\n')
    body = first.wait_for_page("/lazy/", lambda body: body.startswith("lazy v2!"))
    assert first.pid_of(body) != first_pid

    # Nothing may happen now; only a quiet period can show that (no signal to wait on).
    time.sleep(QUIET_PERIOD)
    assert second.pid_of(second.wait_ready()) == second_pid
    assert "reloading" not in second.log()


@pytest.mark.parametrize("backend_name", ["builtin"])
def test_an_edit_made_while_the_server_starts_is_not_lost(
    daemon: DaemonProcess, django_project: Path, start_server: Callable[..., DevServer]
) -> None:
    server = start_server(django_project)
    server.wait_for_log("Watching for file changes with DaemonReloader")
    edit_view(django_project, "hello v2")  # the reloader may not have registered anything yet
    body = server.wait_for_page("/", lambda body: body.startswith("hello v2"))
    assert "pid=" in body


@pytest.mark.parametrize("backend_name", ["builtin"])
def test_the_environment_variable_keeps_djangos_own_reloader(
    daemon: DaemonProcess, django_project: Path, start_server: Callable[..., DevServer]
) -> None:
    server = start_server(django_project, RELOADD_DJANGO="0")
    server.wait_ready()
    server.wait_for_log("Watching for file changes with StatReloader")
    assert not [info for info in clients_of(django_project) if "runserver" in info.name]
    assert "reloadd:" not in server.log()


def edit_until_served(server: DevServer, project: Path, message: str) -> str:
    """Save the view until the server serves ``message``; return the page.

    Django's StatReloader misses an edit made before its first snapshot, and says
    nothing when it takes it: each save after that one is seen.
    """
    deadline = time.monotonic() + RELOAD_TIMEOUT
    while True:
        edit_view(project, message)
        try:
            return server.wait_for_page("/", starts_with(message), timeout=RESAVE_INTERVAL)
        except AssertionError:
            if time.monotonic() > deadline:
                raise


def fallback_warnings(server: DevServer) -> list[str]:
    """The ``reloadd:`` lines of a server's log."""
    return [line for line in server.log().splitlines() if line.startswith("reloadd:")]


def test_without_a_usable_daemon_djangos_reloader_runs_after_one_warning(
    django_project: Path, start_server: Callable[..., DevServer], tmp_path: Path
) -> None:
    # A runtime folder others can open: reloadd refuses to put its socket there.
    runtime = tmp_path / "open-runtime"
    (runtime / "reloadd").mkdir(parents=True)
    (runtime / "reloadd").chmod(0o755)
    server = start_server(django_project, XDG_RUNTIME_DIR=str(runtime))
    pid = server.pid_of(server.wait_ready())
    server.wait_for_log("Watching for file changes with StatReloader")
    warnings = fallback_warnings(server)
    assert len(warnings) == 1, server.log()
    assert "cannot use the daemon" in warnings[0]
    assert "using Django's StatReloader instead" in warnings[0]
    # The user's normal reloader does its job (reloadd also sees edits made before the first
    # scan: see test_an_edit_made_while_the_server_starts_is_not_lost).
    body = edit_until_served(server, django_project, "hello v2")
    assert server.pid_of(body) != pid


def test_a_daemon_of_another_protocol_version_falls_back_to_djangos_reloader(
    django_project: Path, start_server: Callable[..., DevServer]
) -> None:
    # What answers on the project's endpoint speaks another protocol version.
    with VersionMismatchedDaemon(django_project):
        server = start_server(django_project)
        pid = server.pid_of(server.wait_ready())
        server.wait_for_log("Watching for file changes with StatReloader")
        warnings = fallback_warnings(server)
        assert len(warnings) == 1, server.log()
        assert "protocol" in warnings[0], warnings
        assert "using Django's StatReloader instead" in warnings[0]
        body = edit_until_served(server, django_project, "hello v2")
        assert server.pid_of(body) != pid
