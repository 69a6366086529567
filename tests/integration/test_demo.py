"""The demo of the README's first screen (``scripts/demo.sh``: examples/devserver.py), run for real.

A copy of ``examples/`` in a temporary project, its dev server on a free port,
talking to a real daemon: a typo is shown with its file and line and waited
on, the fix is served; a busy port is one line saying how to pick another.
"""

from __future__ import annotations

import shutil
import sys
import time
from pathlib import Path

import pytest

from tests.daemon_process import DaemonProcess
from tests.integration.dev_server import RESPONSE_TIMEOUT, DevServerProcess, request
from tests.net import free_port, listening_socket

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture
def backend_name() -> str:
    """The demo's recovery does not depend on the watcher: the built-in one suffices."""
    return "builtin"


@pytest.fixture
def demo(project: Path, tmp_path: Path, runs: list[DevServerProcess]) -> DevServerProcess:
    """The demo's dev server in a copy of ``examples/``, not started yet."""
    shutil.copytree(EXAMPLES, project / "examples", ignore=shutil.ignore_patterns("__pycache__"))
    port = free_port()
    argv = [sys.executable, "examples/devserver.py", "--port", str(port)]
    server = DevServerProcess(project, tmp_path / "demo.log", argv, port)
    runs.append(server)
    return server


def wait_for_page(server: DevServerProcess, status: int, text: str) -> str:
    """Request the page until it answers ``status`` with ``text`` in it; return the body."""
    deadline = time.monotonic() + RESPONSE_TIMEOUT
    answer = None
    while time.monotonic() < deadline:
        assert server.process is not None
        assert server.process.poll() is None, f"the dev server exited:\n{server.log()}"
        answer = request(server.url)
        if answer is not None and answer[0] == status and text in answer[1]:
            return answer[1]
        time.sleep(0.05)
    pytest.fail(f"the page was {answer!r}, not {status} with {text!r}:\n{server.log()}")


def test_a_typo_is_shown_with_its_line_waited_on_and_the_fix_is_served(
    daemon: DaemonProcess, project: Path, demo: DevServerProcess
) -> None:
    demo.start()
    wait_for_page(demo, 200, "Hello from reloadd!")
    app = project / "examples" / "hello_app.py"
    source = app.read_text()
    app.write_text(source.replace('GREETING = "Hello from reloadd!"', 'GREETING = "Hello again'))
    line = source.splitlines().index('GREETING = "Hello from reloadd!"') + 1
    demo.wait_for_log(rf"devserver: .*hello_app\.py:{line}: SyntaxError: unterminated string")
    demo.wait_for_log("waiting for the fix")
    page = wait_for_page(demo, 500, "SyntaxError")
    assert f"hello_app.py:{line}" in page

    app.write_text(source.replace("Hello from reloadd!", "Hello, fixed!"))
    wait_for_page(demo, 200, "Hello, fixed!")
    assert "Traceback" not in demo.log()


def test_a_busy_port_is_one_line_saying_how_to_pick_another(
    project: Path, demo: DevServerProcess
) -> None:
    with listening_socket() as busy:
        port = busy.getsockname()[1]
        demo.argv[-1] = str(port)
        demo.start()
        assert demo.wait() == 1
    lines = demo.log().splitlines()
    assert len(lines) == 1, demo.log()
    assert f"port {port} is in use" in lines[0]
    assert "scripts/demo.sh --port" in lines[0]
    assert "PORT=" in lines[0]
