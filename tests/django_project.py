"""A small Django project for tests, and ``manage.py runserver`` as a subprocess.

:func:`make_project` runs ``django-admin startproject`` and adds an app ``pages``
with a view, a template and a module the server imports only when ``/lazy/``
is requested. :class:`DevServer` runs ``runserver`` in its own session (its
reloader child in the same process group), logs into a file and is stopped by
process group. Used by ``tests/integration/test_django.py``.
"""

from __future__ import annotations

import http.client
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from tests.net import free_port

START_TIMEOUT = 30.0
"""Seconds a server may take to serve its first page."""

RELOAD_TIMEOUT = 30.0
"""Seconds a reload (notification, restart, first page) may take."""

STOP_TIMEOUT = 10.0

REQUEST_TIMEOUT = 30.0
"""Seconds one :func:`request` may wait for its answer (a restart included)."""

VIEWS = """\
import os

from django.http import HttpResponse
from django.shortcuts import render

MESSAGE = "{message}"


def index(request):
    return HttpResponse(f"{{MESSAGE}} pid={{os.getpid()}}")


def page(request):
    return render(request, "pages/page.html", {{"pid": os.getpid()}})


def styled(request):
    return render(request, "pages/styled.html", {{"pid": os.getpid()}})


def strict(request):
    response = render(request, "pages/styled.html", {{"pid": os.getpid()}})
    response["Content-Security-Policy"] = request.GET.get("csp", "default-src 'none'")
    return response


def lazy(request):
    from pages import lazy_module

    return HttpResponse(f"{{lazy_module.VALUE}} pid={{os.getpid()}}")
"""

URLS = """\
from django.urls import path

from pages import views

urlpatterns = [
    path("", views.index),
    path("page/", views.page),
    path("lazy/", views.lazy),
    path("styled/", views.styled),
    path("strict/", views.strict),
]
"""

SETTINGS_TAIL = """

# Added by the reloadd tests.
INSTALLED_APPS += ["pages"{reloadd}]
"""

BROWSER_SETTINGS = """
MIDDLEWARE.insert(0, "reloadd.client.django.BrowserReloadMiddleware")
"""

STYLED_TEMPLATE = """\
{{% load static %}}<!doctype html>
<html>
<head><title>styled</title><link rel="stylesheet" href="{{% static 'pages/site.css' %}}"></head>
<body><h1 id="title">{text} pid={{{{ pid }}}}</h1><input id="field"></body>
</html>
"""

SITE_CSS = "#title {{ color: {color}; }}\n"


def styled_template(text: str) -> str:
    """``pages/styled.html`` (a whole HTML page with a stylesheet) saying ``text``."""
    return STYLED_TEMPLATE.format(text=text)


def site_css(color: str) -> str:
    """``pages/static/pages/site.css`` giving the title ``color``."""
    return SITE_CSS.format(color=color)


def view_source(message: str) -> str:
    """``pages/views.py`` whose index page says ``message``."""
    return VIEWS.format(message=message)


def make_project(
    root: Path, *, reloadd: bool = True, message: str = "hello v1", browser: bool = False
) -> Path:
    """Create a Django project in ``root`` (which may exist); return ``root``.

    With ``reloadd``, ``"reloadd.client.django"`` is in ``INSTALLED_APPS``; with
    ``browser``, ``BrowserReloadMiddleware`` is first in ``MIDDLEWARE``.
    """
    root.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [sys.executable, "-m", "django", "startproject", "mysite", str(root)],
        check=True,
        capture_output=True,
        timeout=60,
    )
    app = root / "pages"
    (app / "templates" / "pages").mkdir(parents=True)
    (app / "__init__.py").write_text("")
    (app / "views.py").write_text(view_source(message))
    (app / "lazy_module.py").write_text('VALUE = "lazy v1"\n')
    (app / "templates" / "pages" / "page.html").write_text("template v1 pid={{ pid }}\n")
    (app / "templates" / "pages" / "styled.html").write_text(styled_template("styled v1"))
    (app / "static" / "pages").mkdir(parents=True)
    (app / "static" / "pages" / "site.css").write_text(site_css("rgb(0, 0, 255)"))
    (root / "mysite" / "urls.py").write_text(URLS)
    with open(root / "mysite" / "settings.py", "a") as settings:
        settings.write(SETTINGS_TAIL.format(reloadd=', "reloadd.client.django"' if reloadd else ""))
        if browser:
            settings.write(BROWSER_SETTINGS)
    return root


def server_environment(project: Path, **extra: str) -> dict[str, str]:
    """This process's environment (so the test's runtime folder) set up for ``runserver``."""
    env = dict(os.environ)
    for name in ("RUN_MAIN", "DJANGO_SETTINGS_MODULE", "PYTHONSTARTUP"):
        env.pop(name, None)
    env["PYTHONPATH"] = str(project)
    env["PYTHONUNBUFFERED"] = "1"
    # Same-size edits within one second would otherwise be served from a stale .pyc.
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    # Keep Django's own WatchmanReloader (a fallback) away from the developer's Watchman.
    env.setdefault("WATCHMAN_SOCK", str(project / "no-watchman.sock"))
    env.update(extra)
    return env


class DevServer:
    """``python manage.py runserver HOST:PORT [ARGS]`` in ``project``, logging to ``log_path``.

    ``host`` is ``127.0.0.1`` unless given (``::1`` for IPv6, with ``args=["-6"]``).
    """

    def __init__(
        self,
        project: Path,
        log_path: Path,
        *,
        env: Mapping[str, str] | None = None,
        host: str = "127.0.0.1",
        args: Sequence[str] = (),
    ) -> None:
        self.project = project
        self.host = host
        self.args = list(args)
        self.port = free_port()
        self.log_path = log_path
        self.env = dict(env) if env is not None else server_environment(project)
        self.process: subprocess.Popen[bytes] | None = None
        self.opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    @property
    def address(self) -> str:
        """``HOST:PORT``, or ``[HOST]:PORT`` for an IPv6 host."""
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"

    def start(self) -> DevServer:
        """Start the server (do not wait for it)."""
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "manage.py", "runserver", self.address, *self.args],
                cwd=self.project,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return self

    def get(self, path: str = "/", timeout: float = 5.0) -> tuple[int, str] | None:
        """GET a page: ``(status, body)``, or None if nothing answers."""
        try:
            with self.opener.open(f"http://{self.address}{path}", timeout=timeout) as response:
                return int(response.status), response.read().decode()
        except urllib.error.HTTPError as exc:
            with exc:
                return int(exc.code), exc.read().decode(errors="replace")
        except (http.client.HTTPException, OSError):  # refused, reset, cut short (a restart)
            return None

    def wait_for_page(
        self,
        path: str,
        accept: Callable[[str], bool],
        *,
        timeout: float = RELOAD_TIMEOUT,
        interval: float = 0.01,
    ) -> str:
        """Poll ``path`` until a 200 response whose body ``accept`` takes; return that body."""
        deadline = time.monotonic() + timeout
        last: tuple[int, str] | None = None
        while time.monotonic() < deadline:
            self.check_running()
            last = self.get(path)
            if last is not None and last[0] == 200 and accept(last[1]):
                return last[1]
            time.sleep(interval)
        raise AssertionError(
            f"{self.address}{path} did not serve the expected page within {timeout} s "
            f"(last: {last!r}); log:\n{self.log()}"
        )

    def wait_ready(self, path: str = "/") -> str:
        """Wait until the server serves ``path``; return the body."""
        return self.wait_for_page(path, lambda body: True, timeout=START_TIMEOUT)

    def pid_of(self, body: str) -> int:
        """The ``pid=`` a page of the test project shows."""
        match = re.search(r"pid=(\d+)", body)
        assert match, body
        return int(match.group(1))

    def log(self) -> str:
        """Everything the server printed so far."""
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def wait_for_log(self, text: str, timeout: float = START_TIMEOUT) -> None:
        """Wait until ``text`` appears in the log."""
        deadline = time.monotonic() + timeout
        while text not in self.log():
            if time.monotonic() > deadline:
                raise AssertionError(f"{text!r} did not appear in the log:\n{self.log()}")
            self.check_running()
            time.sleep(0.02)

    def check_running(self) -> None:
        """Fail if the ``runserver`` process has exited."""
        assert self.process is not None
        if self.process.poll() is not None:
            raise AssertionError(
                f"runserver exited with {self.process.returncode}; log:\n{self.log()}"
            )

    def stop(self) -> None:
        """SIGTERM the process group (runserver and its reloader child), then SIGKILL it."""
        if self.process is None:
            return
        pgid = self.process.pid  # the leader of its own session and process group
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(pgid, sig)
            except ProcessLookupError:
                break
            try:
                self.process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                continue
            if not _group_alive(pgid, STOP_TIMEOUT):
                break
        self.process.wait(STOP_TIMEOUT)


@dataclass
class Outcome:
    """One request: its status and body, or how it failed."""

    status: int = 0
    body: str = ""
    failure: str = ""
    """``"refused"``, or the exception's class name; empty when answered."""


def request(server: DevServer, path: str = "/") -> Outcome:
    """GET ``path`` once, on a new connection."""
    conn = http.client.HTTPConnection(server.host, server.port, timeout=REQUEST_TIMEOUT)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return Outcome(response.status, response.read().decode(errors="replace"))
    except ConnectionRefusedError:
        return Outcome(failure="refused")
    except (OSError, http.client.HTTPException) as exc:
        return Outcome(failure=type(exc).__name__)
    finally:
        conn.close()


def _group_alive(pgid: int, timeout: float) -> bool:
    """Whether a process of the group is still running after up to ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        if time.monotonic() > deadline:
            return True
        time.sleep(0.02)
