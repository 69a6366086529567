"""Django pages refresh themselves (``BrowserReloadMiddleware``), seen in a real headless Chromium.

A ``startproject`` project with the middleware and ``reloadd.client.django``, a real
``manage.py runserver``, a real daemon: edit a template, a stylesheet, a view; break a
view and fix it; several tabs. Each time the test waits (bounded) for what the page shows.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.browser import Browser
from tests.daemon_process import DaemonProcess
from tests.django_project import (
    DevServer,
    make_project,
    server_environment,
    styled_template,
    view_source,
)


@pytest.fixture
def backend_name() -> str:
    """About the integration, not the watcher: the built-in one suffices."""
    return "builtin"


@pytest.fixture
def django_project(project: Path) -> Path:
    """A generated Django project with ``reloadd.client.django`` and the browser middleware."""
    return make_project(project, browser=True)


@pytest.fixture
def server(
    daemon: DaemonProcess, django_project: Path, tmp_path: Path, servers: list[DevServer]
) -> DevServer:
    """``runserver`` for the project, serving; stopped after the test, before the daemon."""
    started = DevServer(
        django_project, tmp_path / "runserver.log", env=server_environment(django_project)
    )
    servers.append(started)
    started.start()
    started.wait_ready("/styled/")
    return started


def url(server: DevServer, path: str) -> str:
    return f"http://{server.address}{path}"


def open_page(browser: Browser, server: DevServer, path: str = "/styled/") -> None:
    """Load ``path`` and wait until its refresh script is connected to the server."""
    browser.open(url(server, path))
    browser.wait_for("the refresh script connected", browser.connected)


def test_a_template_edit_reloads_the_page_with_the_new_text(
    browser: Browser, server: DevServer, django_project: Path
) -> None:
    open_page(browser, server)
    browser.wait_for_text("styled v1")
    template = django_project / "pages" / "templates" / "pages" / "styled.html"
    template.write_text(styled_template("styled v2"))
    browser.wait_for_text("styled v2")
    assert "styled v1" not in browser.text()


def page_pid(browser: Browser) -> int | None:
    """The ``pid=`` the page shows (which server process rendered it), or None."""
    found = re.search(r"pid=(\d+)", browser.text())
    return int(found.group(1)) if found else None


def test_a_view_edit_reloads_the_page_once_the_new_server_serves(
    browser: Browser, server: DevServer, django_project: Path
) -> None:
    open_page(browser, server)
    first = browser.wait_for("a pid", lambda: page_pid(browser))
    browser.mark()
    (django_project / "pages" / "views.py").write_text(view_source("hello v2"))
    second = browser.wait_for("another pid", lambda: (p := page_pid(browser)) != first and p)
    assert not browser.marked()
    assert "styled v1" in browser.text()
    assert second != first
