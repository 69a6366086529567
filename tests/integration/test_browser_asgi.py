"""ASGI pages refresh themselves (``ASGIMiddleware``) under ``reloadd run --socket -- uvicorn``.

A plain ASGI app wrapped in ``reloadd.client.browser.ASGIMiddleware``, served by uvicorn
on the socket ``reloadd run`` keeps (``--fd 3``), a real daemon, a headless Chromium:
a code edit reloads the page once the new server serves, and uvicorn's graceful exit is
not held up by the page's open event stream.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.browser import Browser
from tests.daemon_process import DaemonProcess
from tests.integration.dev_server import VENV_BIN, Run, set_greeting
from tests.net import free_port

ASGI_APP = """\
import os

import greeting
from reloadd.client.browser import ASGIMiddleware


async def page(scope, receive, send):
    body = f"<!doctype html><html><body><h1>{greeting.TEXT} pid={os.getpid()}</h1></body></html>"
    headers = [(b"content-type", b"text/html; charset=utf-8"), (b"content-length", b"%d" % len(body))]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body.encode()})


app = ASGIMiddleware(page)
"""


@pytest.fixture
def backend_name() -> str:
    """About the integration, not the watcher: the built-in one suffices."""
    return "builtin"


@pytest.fixture
def app(daemon: DaemonProcess, project: Path, tmp_path: Path, runs: list[Run]) -> Run:
    """``reloadd run --socket PORT -- uvicorn app:app --fd 3``, serving."""
    (project / "app.py").write_text(ASGI_APP)
    set_greeting(project, "hello v1")
    port = free_port()
    command = [str(VENV_BIN / "uvicorn"), "app:app", "--fd", "3"]
    run = Run.supervisor(project, tmp_path / "run.log", ["--socket", str(port)], command, port)
    runs.append(run)
    run.start()
    run.wait_for_response("<!doctype html>")
    return run


def test_a_code_edit_reloads_the_page_and_the_open_stream_does_not_hold_the_restart(
    browser: Browser, app: Run, project: Path
) -> None:
    browser.open(app.url)
    browser.wait_for("the refresh script connected", browser.connected)
    browser.wait_for_text("hello v1")
    browser.mark()
    set_greeting(project, "hello v2")
    browser.wait_for_text("hello v2")
    assert not browser.marked()
    assert "ERR_CONNECTION" not in browser.console()
    assert "did not stop within" not in app.log()


def test_a_crash_is_shown_by_the_stand_in_then_the_fix_reloads_the_page(
    browser: Browser, app: Run, project: Path
) -> None:
    browser.open(app.url)
    browser.wait_for("the refresh script connected", browser.connected)
    greeting = project / "greeting.py"
    greeting.write_text("TEXT = 'v2'\n\ndef broken(:\n")

    def overlay() -> str | None:
        text = browser.run(
            "const box = document.getElementById('reloadd-crash');return box ? box.innerText : null"
        )
        return str(text) if text else None

    shown = browser.wait_for("the crash overlay", overlay)
    assert "SyntaxError" in shown
    assert "greeting.py:3" in shown
    place = browser.run("return document.querySelector('#reloadd-crash > div').innerText")
    assert str(place).endswith("greeting.py:3")  # the file and line apart, not only in the text
    assert "hello v1" in browser.text()  # over the page
    set_greeting(project, "fixed")
    browser.wait_for_text("fixed")
    assert not overlay()
