"""``RELOADD_WARM=1 manage.py runserver``: each new server process is a fork of the warm template.

Real ``startproject`` projects and ``manage.py runserver`` processes, as in
``test_django_socket.py``, with the real warm engine (``reloadd.client.warm``). The
parent names each server process it forked from the template (``warm start: server
process PID``); the page says which process answered, so a test knows that the new
code was served by a warm fork.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.daemon_process import DaemonProcess
from tests.django_project import (
    RELOAD_TIMEOUT,
    STOP_TIMEOUT,
    DevServer,
    make_project,
    server_environment,
)
from tests.integration.test_django_socket import RESAVE_INTERVAL, Firing
from tests.process_stats import alive, live_descendants

WARM_LINE = re.compile(r"warm start: server process (\d+)")

VIEWS = """\
import os

from django.conf import settings
from django.http import HttpResponse

MESSAGE = "{message}"


def index(request):
    return HttpResponse(f"{{MESSAGE}} {{settings.WARM_CHECK}} pid={{os.getpid()}}")


def exit(request):
    os._exit(7)
"""

URLS = """\
from django.urls import path

from pages import views

urlpatterns = [path("", views.index), path("exit/", views.exit)]
"""


def write_views(project: Path, message: str) -> None:
    """A view that says ``message`` and a setting; ``/exit/`` ends the server process with 7."""
    (project / "pages" / "views.py").write_text(VIEWS.format(message=message))


def set_check(project: Path, value: str) -> None:
    """Set ``WARM_CHECK`` at the end of the settings."""
    settings = project / "mysite" / "settings.py"
    text = re.sub(r"\nWARM_CHECK = .*\n", "\n", settings.read_text())
    settings.write_text(f"{text}\nWARM_CHECK = {value!r}\n")


@pytest.fixture
def django_project(project: Path) -> Path:
    """A generated project with ``reloadd.client.django``, a view showing a setting."""
    make_project(project)
    (project / "mysite" / "urls.py").write_text(URLS)
    write_views(project, "hello v1")
    set_check(project, "s1")
    return project


@pytest.fixture
def start_warm(servers: list[DevServer], tmp_path: Path) -> Callable[[Path], DevServer]:
    """A started ``RELOADD_WARM=1 manage.py runserver`` in a project."""

    def start(project: Path) -> DevServer:
        log_path = tmp_path / f"runserver-{len(servers)}.log"
        server = DevServer(project, log_path, env=server_environment(project, RELOADD_WARM="1"))
        servers.append(server)
        return server.start()

    return start


def edit_until_served(firing: Firing, project: Path, message: str) -> None:
    """Save the view until the firing thread gets the page saying ``message``."""
    deadline = time.monotonic() + RELOAD_TIMEOUT
    while True:
        write_views(project, message)
        if firing.wait_for(lambda o: o.body.startswith(message), RESAVE_INTERVAL):
            return
        assert time.monotonic() < deadline, f"{message!r} never served:\n{firing.server.log()}"


def warm_pids(server: DevServer) -> set[int]:
    """The server processes the parent says it forked from the template."""
    return {int(pid) for pid in WARM_LINE.findall(server.log())}


def serve_warm(server: DevServer, project: Path, message: str) -> str:
    """Edit the view until a warm fork serves ``message``; return that page.

    The first server process is cold, and the template is prepared in the background
    after each start: an edit made before it is ready may be served cold. Each edit
    is served (by the new code) either way; editing again until a warm fork answers
    waits for the template without any fixed sleep.
    """
    deadline = time.monotonic() + RELOAD_TIMEOUT
    for attempt in range(100):
        text = f"{message} {attempt}"
        write_views(server.project, text)
        body = server.wait_for_page("/", lambda b, t=text: b.startswith(f"{t} "))  # type: ignore[misc]
        if server.pid_of(body) in warm_pids(server):
            return body
        assert time.monotonic() < deadline, f"no warm start:\n{server.log()}"
    raise AssertionError(f"no warm start:\n{server.log()}")


@pytest.mark.parametrize("backend_name", ["builtin"])
def test_view_and_settings_edits_are_served_by_warm_forks_on_the_kept_socket(
    daemon: DaemonProcess, django_project: Path, start_warm: Callable[[Path], DevServer]
) -> None:
    server = start_warm(django_project)
    first = server.wait_ready()
    assert server.pid_of(first) not in warm_pids(server), "the first start is cold"
    server.wait_for_log("Watching for file changes with DaemonReloader")

    page = serve_warm(server, django_project, "hello v2")
    assert page.endswith(f"s1 pid={server.pid_of(page)}")

    # Requests made during warm restarts are all answered: the fork serves on the kept socket.
    with Firing(server) as firing:
        for version in range(3, 6):
            edit_until_served(firing, django_project, f"hello v{version} ")
    failed = [o.failure for o in firing.outcomes if o.failure]
    assert not failed, f"{len(failed)} of {len(firing.outcomes)} requests failed: {set(failed)}"
    served_by = {server.pid_of(o.body) for o in firing.outcomes if o.status == 200}
    assert served_by & warm_pids(server), f"no warm fork served:\n{server.log()}"

    set_check(django_project, "s2")
    body = server.wait_for_page("/", lambda b: " s2 pid=" in b)
    assert "hello v5" in body


@pytest.mark.parametrize("backend_name", ["builtin"])
def test_a_warm_server_process_ending_with_a_status_ends_runserver_with_it(
    daemon: DaemonProcess, django_project: Path, start_warm: Callable[[Path], DevServer]
) -> None:
    """Django's contract: only exit code 3 starts another server process."""
    server = start_warm(django_project)
    server.wait_ready()
    serve_warm(server, django_project, "hello v2")
    assert server.get("/exit/", timeout=5.0) is None  # os._exit(7) in the server process
    assert server.process is not None
    assert server.process.wait(STOP_TIMEOUT) == 7, server.log()


@pytest.mark.parametrize("backend_name", ["builtin"])
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_stopping_runserver_leaves_nothing_running(
    daemon: DaemonProcess,
    django_project: Path,
    start_warm: Callable[[Path], DevServer],
    signum: signal.Signals,
) -> None:
    """Ctrl-C (SIGINT to the terminal's group) or SIGTERM to it: the server processes and
    the template run in sessions of their own, and are stopped all the same."""
    server = start_warm(django_project)
    server.wait_ready()
    serve_warm(server, django_project, "hello v2")
    assert server.process is not None
    below = live_descendants(server.process.pid)
    assert len(below) >= 2, "a server process and a template run below runserver"
    os.killpg(server.process.pid, signum)  # to runserver's group, as the terminal does
    try:
        server.process.wait(STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        pytest.fail(f"runserver did not end on {signum.name}:\n{server.log()}")
    deadline = time.monotonic() + STOP_TIMEOUT
    while left := [pid for pid in below if Path(f"/proc/{pid}").exists() and _alive(pid)]:
        assert time.monotonic() < deadline, f"still running after {signum.name}: {left}"
        time.sleep(0.05)


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


SLOW_EXIT = """
import os as _os
import threading as _threading
import time as _time


def _hold(release="{release}", holding="{holding}"):
    with open(holding, "a") as marks:
        marks.write(f"{{_os.getpid()}}\\n")
    deadline = _time.monotonic() + 60
    while not _os.path.exists(release) and _time.monotonic() < deadline:
        _time.sleep(0.01)


if _os.environ.get("RUN_MAIN") == "true":
    {how}
"""

HOLDS = {
    # Registered before the server binds, so it runs after the kept socket's drain.
    "atexit": "import atexit; atexit.register(_hold)",
    # The interpreter waits for it before any atexit handler runs.
    "thread": "_threading.Thread(target=lambda: (_threading.main_thread().join(), _hold())).start()",
}


@pytest.mark.parametrize("backend_name", ["builtin"])
@pytest.mark.parametrize("hold", sorted(HOLDS))
def test_the_next_server_process_starts_while_the_old_one_is_still_exiting(
    daemon: DaemonProcess,
    django_project: Path,
    start_warm: Callable[[Path], DevServer],
    tmp_path: Path,
    hold: str,
) -> None:
    """A server process exiting to restart hands over as soon as it accepts nothing more:
    the next one serves the edit while the old one is still exiting (held here by the
    project: an ``atexit`` handler, or a non-daemon thread the interpreter waits for before
    any ``atexit`` handler, that waits for a file), and its status 3 still counts."""
    release, holding = tmp_path / "release", tmp_path / "holding"
    settings = django_project / "mysite" / "settings.py"
    code = SLOW_EXIT.format(release=release, holding=holding, how=HOLDS[hold])
    settings.write_text(settings.read_text() + code)
    server = start_warm(django_project)
    first = server.pid_of(server.wait_ready())
    write_views(django_project, "hello v2")
    body = server.wait_for_page("/", lambda b: b.startswith("hello v2 "))
    assert server.pid_of(body) != first
    assert holding.read_text().split() == [str(first)], "the old process is still exiting"
    assert first in live_descendants(server.process.pid if server.process else 0)
    release.touch()  # the old process ends with 3; the new one goes on serving
    write_views(django_project, "hello v3")
    server.wait_for_page("/", lambda b: b.startswith("hello v3 "))
    assert server.process is not None
    assert server.process.poll() is None, server.log()
    # Stopped right after a hand-over, runserver leaves no server process behind (a late
    # hand-over line once made the parent take the serving process for an exiting one).
    forks = warm_pids(server)
    server.stop()
    deadline = time.monotonic() + STOP_TIMEOUT
    while (left := [pid for pid in forks if alive(pid)]) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not left, f"server processes left running: {left}\n{server.log()}"
