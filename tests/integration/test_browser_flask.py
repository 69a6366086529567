"""Flask pages refresh themselves (``WSGIMiddleware``), seen in a real headless Chromium.

A Flask app wrapped in ``reloadd.client.browser.WSGIMiddleware``, run with
``app.run(debug=True, reloader_type="reloadd")`` and a real daemon: edit a template,
a stylesheet, a view; break the app and fix it.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

from tests.browser import Browser
from tests.daemon_process import DaemonProcess
from tests.integration.dev_server import Run, request, set_greeting
from tests.net import free_port

FLASK_APP = """\
import os

from flask import Flask, render_template

import greeting
from reloadd.client.browser import WSGIMiddleware

app = Flask(__name__)
app.wsgi_app = WSGIMiddleware(app.wsgi_app)


@app.get("/")
def index():
    return render_template("page.html", greeting=greeting.TEXT, pid=os.getpid())


if __name__ == "__main__":
    import reloadd.client.werkzeug  # noqa: F401  (registers reloader_type="reloadd")

    app.run(port=int(os.environ["PORT"]), debug=True, reloader_type="reloadd")
"""

PAGE = """\
<!doctype html>
<html>
<head><title>flask</title><link rel="stylesheet" href="{{{{ url_for('static', filename='site.css') }}}}"></head>
<body><h1 id="title">{text} {{{{ greeting }}}} pid={{{{ pid }}}}</h1><input id="field"></body>
</html>
"""


def page_template(text: str) -> str:
    """``templates/page.html`` saying ``text``, the greeting and the pid."""
    return PAGE.format(text=text)


def site_css(color: str) -> str:
    """``static/site.css`` giving the title ``color``."""
    return f"#title {{ color: {color}; }}\n"


@pytest.fixture
def backend_name() -> str:
    """About the integration, not the watcher: the built-in one suffices."""
    return "builtin"


@pytest.fixture
def app(daemon: DaemonProcess, project: Path, tmp_path: Path, runs: list[Run]) -> Run:
    """``python app.py`` (Flask, ``reloader_type="reloadd"``), serving."""
    (project / "app.py").write_text(FLASK_APP)
    (project / "templates").mkdir()
    (project / "templates" / "page.html").write_text(page_template("page v1"))
    (project / "static").mkdir()
    (project / "static" / "site.css").write_text(site_css("rgb(0, 0, 255)"))
    set_greeting(project, "hello v1")
    run = Run(project, tmp_path / "app.log", [sys.executable, "app.py"], free_port())
    runs.append(run)
    run.start()
    run.wait_for_response("<!doctype html>")
    return run


def open_page(browser: Browser, app: Run) -> None:
    """Load the app's page and wait until its refresh script is connected."""
    browser.open(app.url)
    browser.wait_for("the refresh script connected", browser.connected)


def page_pid(browser: Browser) -> int | None:
    found = re.search(r"pid=(\d+)", browser.text())
    return int(found.group(1)) if found else None


def overlay(browser: Browser) -> str | None:
    text = browser.run(
        "const box = document.getElementById('reloadd-crash'); return box ? box.innerText : null"
    )
    return str(text) if text else None


def test_a_template_edit_reloads_the_page(browser: Browser, app: Run, project: Path) -> None:
    open_page(browser, app)
    browser.wait_for_text("page v1")
    (project / "templates" / "page.html").write_text(page_template("page v2"))
    browser.wait_for_text("page v2")


def test_a_css_edit_swaps_the_stylesheet_without_a_navigation(
    browser: Browser, app: Run, project: Path
) -> None:
    open_page(browser, app)
    color = "return getComputedStyle(document.getElementById('title')).color"
    browser.wait_for("a blue title", lambda: browser.run(color) == "rgb(0, 0, 255)")
    browser.mark()
    browser.run("document.getElementById('field').value = 'typed'")
    (project / "static" / "site.css").write_text(site_css("rgb(255, 0, 0)"))
    browser.wait_for("a red title", lambda: browser.run(color) == "rgb(255, 0, 0)")
    assert browser.marked(), "the page was navigated"
    assert browser.run("return document.getElementById('field').value") == "typed"


def test_a_code_edit_reloads_the_page_once_the_new_server_serves(
    browser: Browser, app: Run, project: Path
) -> None:
    open_page(browser, app)
    first = browser.wait_for("a pid", lambda: page_pid(browser))
    set_greeting(project, "hello v2")
    browser.wait_for_text("hello v2")
    assert page_pid(browser) != first
    assert "ERR_CONNECTION" not in browser.console()


def test_a_broken_app_shows_the_error_then_the_fix_reloads_the_page(
    browser: Browser, app: Run, project: Path
) -> None:
    open_page(browser, app)
    first = browser.wait_for("a pid", lambda: page_pid(browser))
    greeting = project / "greeting.py"
    greeting.write_text("TEXT = 'hello v2'\n\ndef broken(:\n")
    shown = browser.wait_for("the crash overlay", lambda: overlay(browser))
    assert "SyntaxError" in shown
    assert f"{greeting}:3" in shown
    assert "page v1" in browser.text()  # over the page, not another page
    answer = request(app.url)  # anything else gets the 503 page, at once
    assert answer is not None
    assert answer[0] == 503
    assert "greeting.py:3: SyntaxError" in answer[1]
    set_greeting(project, "fixed")
    browser.wait_for_text("fixed")
    assert not overlay(browser)
    assert page_pid(browser) != first
