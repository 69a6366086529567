"""Django pages refresh themselves (``BrowserReloadMiddleware``), seen in a real headless Chromium.

A ``startproject`` project with the middleware and ``reloadd.client.django``, a real
``manage.py runserver``, a real daemon: edit a template, a stylesheet, a view; break a
view and fix it; several tabs. Each time the test waits (bounded) for what the page shows.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlencode

import pytest

from reloadd.client import Client, Role
from tests.browser import Browser
from tests.daemon_process import DaemonProcess
from tests.django_project import (
    DevServer,
    make_project,
    server_environment,
    site_css,
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
    assert "ERR_CONNECTION" not in browser.console()


def title_color(browser: Browser) -> str:
    """The computed colour of the page's title."""
    return str(browser.run("return getComputedStyle(document.getElementById('title')).color"))


def test_a_css_edit_swaps_the_stylesheet_without_a_navigation(
    browser: Browser, server: DevServer, django_project: Path
) -> None:
    open_page(browser, server)
    assert browser.wait_for("a blue title", lambda: title_color(browser) == "rgb(0, 0, 255)")
    browser.mark()
    browser.run("document.getElementById('field').value = 'typed'")
    css = django_project / "pages" / "static" / "pages" / "site.css"
    css.write_text(site_css("rgb(255, 0, 0)"))
    browser.wait_for("a red title", lambda: title_color(browser) == "rgb(255, 0, 0)")
    assert browser.marked(), "the page was navigated"
    assert browser.run("return document.getElementById('field').value") == "typed"
    links = browser.run("return document.querySelectorAll('link[rel=stylesheet]').length")
    assert links == 1


def overlay(browser: Browser) -> str | None:
    """The text of the crash overlay, if the page shows one."""
    text = browser.run(
        "const box = document.getElementById('reloadd-crash'); return box ? box.innerText : null"
    )
    return str(text) if text else None


def test_a_broken_view_shows_the_error_then_the_fix_reloads_the_page(
    browser: Browser, server: DevServer, django_project: Path
) -> None:
    open_page(browser, server)
    first = browser.wait_for("a pid", lambda: page_pid(browser))
    views = django_project / "pages" / "views.py"
    source = [*view_source("broken").rstrip("\n").split("\n"), "", "", "def broken(:"]
    views.write_text("\n".join(source) + "\n")
    shown = browser.wait_for("the crash overlay", lambda: overlay(browser))
    assert "SyntaxError" in shown
    assert f"{views}:{len(source)}" in shown
    assert "styled v1" in browser.text()  # an overlay over the page, not another page
    views.write_text(view_source("fixed"))
    browser.wait_for("the page again", lambda: not overlay(browser) and page_pid(browser))
    assert page_pid(browser) != first
    assert "styled v1" in browser.text()


def test_the_503_page_of_a_crashed_server_reloads_itself_once_fixed(
    browser: Browser, server: DevServer, django_project: Path
) -> None:
    views = django_project / "pages" / "views.py"
    views.write_text(view_source("broken") + "\n\ndef broken(:\n")
    server.wait_for_log("SyntaxError")  # the stand-in answers from now on
    browser.open(url(server, "/styled/"))
    browser.wait_for_text("503 Service Unavailable")
    assert "SyntaxError" in browser.wait_for("the crash overlay", lambda: overlay(browser))
    views.write_text(view_source("fixed"))
    browser.wait_for_text("styled v1")
    assert not overlay(browser)


TABS = 8
"""More tabs than a browser opens connections to one server (6): they share one stream."""


def test_every_tab_reloads_on_a_template_edit(
    browser: Browser, server: DevServer, django_project: Path
) -> None:
    tabs = []
    for _ in range(TABS):
        tabs.append(browser.new_tab(url(server, "/styled/")))
        browser.wait_for("the refresh script connected", browser.connected)
    template = django_project / "pages" / "templates" / "pages" / "styled.html"
    template.write_text(styled_template("styled v2"))
    for tab in tabs:
        browser.switch_to(tab)
        browser.wait_for_text("styled v2")


def test_a_page_follows_its_own_server_only(
    browser: Browser,
    server: DevServer,
    django_project: Path,
    tmp_path: Path,
    servers: list[DevServer],
) -> None:
    other = DevServer(
        django_project, tmp_path / "other.log", env=server_environment(django_project)
    )
    servers.append(other)
    other.start().wait_ready("/styled/")
    mine = browser.new_tab(url(server, "/styled/"))
    browser.wait_for("the refresh script connected", browser.connected)
    browser.mark()
    theirs = browser.new_tab(url(other, "/styled/"))
    browser.wait_for("the refresh script connected", browser.connected)
    first = browser.wait_for("a pid", lambda: page_pid(browser))
    browser.mark()
    with Client(django_project, name="test", role=Role.TOOL) as client:
        assert client.reload(f"manage.py runserver {other.address} in {django_project}")
    browser.wait_for("another pid", lambda: (p := page_pid(browser)) != first and p)
    browser.switch_to(mine)
    assert browser.marked(), "the page of the other server reloaded too"
    browser.switch_to(theirs)
    assert not browser.marked()


def test_a_page_whose_csp_has_a_nonce_gets_the_script_with_it_and_refreshes(
    browser: Browser, server: DevServer, django_project: Path
) -> None:
    policy = "script-src 'nonce-r4nd0m'; connect-src 'self'; style-src 'self'"
    open_page(browser, server, "/strict/?" + urlencode({"csp": policy}))
    template = django_project / "pages" / "templates" / "pages" / "styled.html"
    template.write_text(styled_template("styled v2"))
    browser.wait_for_text("styled v2")


def test_a_page_whose_csp_refuses_the_script_gets_none_and_the_log_says_what_to_add(
    browser: Browser, server: DevServer
) -> None:
    browser.open(url(server, "/strict/?" + urlencode({"csp": "default-src 'none'"})))
    browser.wait_for_text("styled v1")
    assert browser.run("return document.querySelectorAll('script').length") == 0
    server.wait_for_log("add 'self' to script-src")


def test_without_the_kept_socket_the_page_retries_refused_connections_then_reloads(
    browser: Browser,
    daemon: DaemonProcess,
    django_project: Path,
    tmp_path: Path,
    servers: list[DevServer],
) -> None:
    # Django's own reloader (RELOADD_DJANGO=0): the port is closed during each restart.
    env = server_environment(django_project, RELOADD_DJANGO="0")
    stock = DevServer(django_project, tmp_path / "stock.log", env=env)
    servers.append(stock)
    stock.start().wait_ready("/styled/")
    open_page(browser, stock)
    first = browser.wait_for("a pid", lambda: page_pid(browser))
    template = django_project / "pages" / "templates" / "pages" / "styled.html"
    template.write_text(styled_template("styled v2"))  # Django's own file_changed, too
    browser.wait_for_text("styled v2")
    (django_project / "pages" / "views.py").write_text(view_source("hello v2"))
    browser.wait_for("another pid", lambda: page_pid(browser) not in (None, first))
    assert "styled v2" in browser.text()
    refused_pages = [
        line
        for line in browser.console().splitlines()
        if "ERR_CONNECTION" in line and "/__reloadd__/events" not in line
    ]
    assert refused_pages == []
