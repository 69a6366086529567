"""``runserver`` keeps its listening socket across restarts (``reloadd.client.django.kept_socket``).

Real ``startproject`` projects and ``manage.py runserver`` processes, as in
``test_django.py``. ``startproject`` lists ``django.contrib.staticfiles``, so the
``runserver`` these tests run is staticfiles' one. A thread requests the index page
every 20 ms while the view is edited; every answer and every refusal is recorded.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.daemon_process import DaemonProcess
from tests.django_project import (
    RELOAD_TIMEOUT,
    REQUEST_TIMEOUT,
    DevServer,
    Outcome,
    make_project,
    request,
    server_environment,
    view_source,
)

EDITS = 5
"""View edits made while requests are fired."""

INTERVAL = 0.02
"""Seconds between two requests of the firing thread."""

RESAVE_INTERVAL = 1.5
"""Seconds between two saves of the view while the new page is not served (Django's
StatReloader misses a save made before its first snapshot)."""


@dataclass
class Firing:
    """A thread that requests ``/`` every :data:`INTERVAL` seconds until stopped."""

    server: DevServer
    outcomes: list[Outcome] = field(default_factory=list)
    stop_event: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None

    def __enter__(self) -> Firing:
        self.thread = threading.Thread(target=self._fire, daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop_event.set()
        assert self.thread is not None
        self.thread.join(REQUEST_TIMEOUT + 5)

    def _fire(self) -> None:
        while not self.stop_event.is_set():
            self.outcomes.append(request(self.server))
            self.stop_event.wait(INTERVAL)

    def wait_for(self, accept: Callable[[Outcome], bool], timeout: float) -> bool:
        """Whether an outcome after this call's start is accepted within ``timeout`` seconds."""
        start = len(self.outcomes)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(accept(outcome) for outcome in self.outcomes[start:]):
                return True
            self.server.check_running()
            time.sleep(INTERVAL)
        return False


@pytest.fixture
def django_project(project: Path) -> Path:
    """A generated Django project with ``reloadd.client.django`` installed, in the daemon's root."""
    return make_project(project)


@pytest.fixture
def start_server(servers: list[DevServer], tmp_path: Path) -> Callable[..., DevServer]:
    """``start_server(project, host=..., args=[...], **extra_environment)``: a started ``runserver``."""

    def start(
        project: Path, *, host: str = "127.0.0.1", args: tuple[str, ...] = (), **env: str
    ) -> DevServer:
        log_path = tmp_path / f"runserver-{len(servers)}.log"
        server = DevServer(
            project, log_path, env=server_environment(project, **env), host=host, args=args
        )
        servers.append(server)
        return server.start()

    return start


def edit_until_served(firing: Firing, project: Path, message: str) -> None:
    """Save the view until the firing thread gets the page saying ``message``."""
    deadline = time.monotonic() + RELOAD_TIMEOUT
    while True:
        (project / "pages" / "views.py").write_text(view_source(message))
        if firing.wait_for(lambda o: o.body.startswith(message), RESAVE_INTERVAL):
            return
        assert time.monotonic() < deadline, f"{message!r} never served:\n{firing.server.log()}"


def fire_during_edits(server: DevServer, project: Path) -> list[Outcome]:
    """Request ``/`` every 20 ms during :data:`EDITS` view edits (each one served); the outcomes."""
    with Firing(server) as firing:
        for version in range(2, 2 + EDITS):
            edit_until_served(firing, project, f"hello v{version} ")
    return firing.outcomes


@pytest.mark.parametrize("backend_name", ["builtin"])
@pytest.mark.parametrize(
    ("host", "args"),
    [("127.0.0.1", ()), ("::1", ("-6",)), ("127.0.0.1", ("--nothreading",))],
    ids=["ipv4", "ipv6", "nothreading"],
)
def test_every_request_during_five_edits_is_answered(
    daemon: DaemonProcess,
    django_project: Path,
    start_server: Callable[..., DevServer],
    host: str,
    args: tuple[str, ...],
) -> None:
    server = start_server(django_project, host=host, args=args)
    first = server.wait_ready()
    server.wait_for_log("Watching for file changes with DaemonReloader")
    outcomes = fire_during_edits(server, django_project)
    failed = [o.failure for o in outcomes if o.failure]
    assert not failed, f"{len(failed)} of {len(outcomes)} requests failed: {set(failed)}"
    assert all(o.status == 200 and o.body.startswith("hello v") for o in outcomes)
    pids = {server.pid_of(first)} | {server.pid_of(o.body) for o in outcomes}
    assert len(pids) >= 1 + EDITS, "each edit restarted the server process"
    assert server.log().count("changed, reloading.") >= EDITS


@pytest.mark.parametrize("backend_name", ["builtin"])
def test_stock_runserver_refuses_connections_during_the_same_edits(
    daemon: DaemonProcess, django_project: Path, start_server: Callable[..., DevServer]
) -> None:
    """Without the integration (``RELOADD_DJANGO=0``) the same loop meets refusals."""
    server = start_server(django_project, RELOADD_DJANGO="0")
    server.wait_ready()
    server.wait_for_log("Watching for file changes with StatReloader")
    outcomes = fire_during_edits(server, django_project)
    assert any(o.failure == "refused" for o in outcomes)


@pytest.mark.parametrize("backend_name", ["builtin"])
def test_a_syntax_error_is_answered_with_a_503_page_until_it_is_fixed(
    daemon: DaemonProcess, django_project: Path, start_server: Callable[..., DevServer]
) -> None:
    server = start_server(django_project)
    server.wait_ready()
    server.wait_for_log("Watching for file changes with DaemonReloader")
    views = django_project / "pages" / "views.py"
    with Firing(server) as firing:
        views.write_text(view_source("hello v1") + "\ndef broken(:\n")
        assert firing.wait_for(lambda o: o.status == 503, RELOAD_TIMEOUT), server.log()
        page = request(server)
        assert page.status == 503, page
        broken_line = len(view_source("hello v1").splitlines()) + 2
        assert f"pages/views.py:{broken_line}: SyntaxError" in page.body
        assert "restarts it at the next change" in page.body
        views.write_text(view_source("hello fixed"))
        assert firing.wait_for(lambda o: o.body.startswith("hello fixed"), RELOAD_TIMEOUT)
    failed = [o.failure for o in firing.outcomes if o.failure]
    assert not failed, [(o.status, o.failure) for o in firing.outcomes]
    assert {o.status for o in firing.outcomes} <= {200, 503}


@pytest.mark.parametrize("backend_name", ["builtin"])
def test_noreload_serves_from_the_runserver_process_itself(
    daemon: DaemonProcess, django_project: Path, start_server: Callable[..., DevServer]
) -> None:
    server = start_server(django_project, args=("--noreload",))
    body = server.wait_ready()
    assert server.process is not None
    assert server.pid_of(body) == server.process.pid, "no reloader child: nothing changes"
    assert "reloadd:" not in server.log()


@pytest.mark.parametrize("backend_name", ["builtin"])
def test_an_app_that_fails_to_import_gets_the_503_page_with_reloadd_listed_first(
    daemon: DaemonProcess, django_project: Path, start_server: Callable[..., DevServer]
) -> None:
    """As docs/django.md advises: listed first, the app loads before the broken one."""
    settings = django_project / "mysite" / "settings.py"
    settings.write_text(
        settings.read_text().replace(
            'INSTALLED_APPS += ["pages", "reloadd.client.django"]',
            'INSTALLED_APPS.insert(0, "reloadd.client.django")\nINSTALLED_APPS += ["pages"]',
        )
    )
    server = start_server(django_project)
    server.wait_ready()
    server.wait_for_log("Watching for file changes with DaemonReloader")
    package = django_project / "pages" / "__init__.py"
    with Firing(server) as firing:
        package.write_text("VALUE = (\n")
        assert firing.wait_for(lambda o: o.status == 503, RELOAD_TIMEOUT), server.log()
        assert "pages/__init__.py:1: SyntaxError" in request(server).body
        package.write_text("")
        assert firing.wait_for(lambda o: o.status == 200, RELOAD_TIMEOUT), server.log()
    assert not [o.failure for o in firing.outcomes if o.failure]
