"""Flask and werkzeug reloading through the daemon, with real Flask processes, both ways:

* ``reloader_type="reloadd"`` (``app.run`` and ``run_simple``), after importing
  ``reloadd.client.werkzeug``: werkzeug's own reloader process restarts the server
  when our loop exits with code 3;
* ``reloadd run -- flask run --no-reload``: the supervisor restarts ``flask run``.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

from tests.daemon_process import DaemonProcess
from tests.integration.dev_server import (
    RESPONSE_TIMEOUT,
    VENV_BIN,
    Run,
    StartRun,
    get,
    request,
    set_greeting,
)
from tests.integration.helpers import QUIET_PERIOD
from tests.net import free_port


@pytest.fixture
def backend_name() -> str:
    """These tests are about the integration, not the watcher: the built-in one suffices."""
    return "builtin"


FLASK_APP = """\
import os

from flask import Flask

import greeting

with open("starts.log", "a") as log:
    log.write(f"{os.getpid()}\\n")

app = Flask(__name__)


@app.get("/")
def index():
    return f"{greeting.TEXT} from {os.getpid()}"


if __name__ == "__main__":
    import reloadd.client.werkzeug  # noqa: F401  (registers reloader_type="reloadd")

    app.run(port=int(os.environ["PORT"]), debug=True, reloader_type="reloadd")
"""

RUN_SIMPLE_APP = """\
import os

from werkzeug.serving import run_simple
from werkzeug.wrappers import Response

import excluded
import greeting

with open("starts.log", "a") as log:
    log.write(f"{os.getpid()}\\n")


def app(environ, start_response):
    body = f"{greeting.TEXT} {excluded.X} from {os.getpid()}"
    return Response(body)(environ, start_response)


if __name__ == "__main__":
    import reloadd.client.werkzeug  # noqa: F401

    run_simple(
        "127.0.0.1",
        int(os.environ["PORT"]),
        app,
        use_reloader=True,
        reloader_type="reloadd",
        extra_files=["settings.cfg"],
        exclude_patterns=["*/excluded.py"],
    )
"""


LAZY_FLASK_APP = """\
import os

from flask import Flask

with open("starts.log", "a") as log:
    log.write(f"{os.getpid()}\\n")

app = Flask(__name__)


@app.get("/")
def index():
    import outside_lib  # imported by the first request only; it may fail to import

    return f"{outside_lib.TEXT} from {os.getpid()}"


if __name__ == "__main__":
    import reloadd.client.werkzeug  # noqa: F401

    app.run(port=int(os.environ["PORT"]), debug=True, reloader_type="reloadd")
"""


def start_app(project: Path, tmp_path: Path, runs: list[Run], script: str, **env: str) -> Run:
    """``python SCRIPT`` in the project, in its own session (werkzeug's two processes share it)."""
    run = Run(project, tmp_path / "app.log", [sys.executable, script], free_port())
    runs.append(run)
    return run.start(**env)


def wait_for_failure(run: Run, timeout: float = RESPONSE_TIMEOUT) -> None:
    """Wait until the server answers, with an error (``get`` gives None for a 500)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run.wait_for_starts(2)  # the outer process, then the server
        if "SyntaxError" in run.log():
            return
        get(run.url)
        time.sleep(0.05)
    pytest.fail(f"no failed import in the log:\n{run.log()}")


def test_importing_the_module_registers_the_reloader() -> None:
    from werkzeug._reloader import reloader_loops

    import reloadd.client.werkzeug

    assert reloader_loops["reloadd"] is reloadd.client.werkzeug.ReloaddReloaderLoop
    assert reloadd.client.werkzeug.ReloaddReloaderLoop.name == "reloadd"


def test_flask_app_run_with_the_reloadd_reloader(
    daemon: DaemonProcess, project: Path, tmp_path: Path, runs: list[Run]
) -> None:
    (project / "app.py").write_text(FLASK_APP)
    set_greeting(project, "v1")
    run = start_app(project, tmp_path, runs, "app.py")
    run.wait_for_response("v1")
    assert "Restarting with reloadd" in run.log()
    set_greeting(project, "v2")
    run.wait_for_response("v2")
    run.wait_for_log(r"Detected change in '.*greeting\.py', reloading")
    (project / "unrelated.py").write_text("X = 1\n")
    # Nothing may happen now; only a quiet period can show that (no signal to wait on).
    time.sleep(QUIET_PERIOD)
    # The outer process imports app.py too; then one server process per reload.
    assert len(run.starts()) == 3, run.log()


def test_run_simple_honours_extra_files_and_exclude_patterns(
    daemon: DaemonProcess, project: Path, tmp_path: Path, runs: list[Run]
) -> None:
    (project / "app.py").write_text(RUN_SIMPLE_APP)
    (project / "excluded.py").write_text("X = 'x1'\n")
    (project / "settings.cfg").write_text("a = 1\n")
    set_greeting(project, "v1")
    run = start_app(project, tmp_path, runs, "app.py")
    run.wait_for_response("v1 x1")
    starts = len(run.starts())

    (project / "excluded.py").write_text("X = 'x2'\n")
    # Nothing may happen now; only a quiet period can show that (no signal to wait on).
    time.sleep(QUIET_PERIOD)
    assert len(run.starts()) == starts, "a change to an excluded file must not reload"

    (project / "settings.cfg").write_text("a = 2\n")
    run.wait_for_starts(starts + 1)
    run.wait_for_response("v1 x2")  # the reload (for the extra file) read the new excluded.py


def test_flask_run_through_reloadd_run(
    daemon: DaemonProcess, project: Path, start_run: StartRun
) -> None:
    (project / "app.py").write_text(FLASK_APP)
    set_greeting(project, "v1")
    run = start_run([str(VENV_BIN / "flask"), "--app", "app", "run", "--no-reload", "-p", "{port}"])
    run.wait_for_response("v1")
    set_greeting(project, "v2")
    answer = run.wait_for_response("v2")
    assert len(run.starts()) == 2
    assert answer.endswith(f"from {run.starts()[1]}")
    run.wait_for_log(r"reloadd: greeting\.py changed; restarted in \d+ ms")


@pytest.mark.parametrize("port_from", ["argument", "environment"])
def test_flask_run_binding_the_held_port_is_told_to_take_the_socket(
    daemon: DaemonProcess, project: Path, start_run: StartRun, port_from: str
) -> None:
    (project / "app.py").write_text(FLASK_APP)
    set_greeting(project, "v1")
    port = free_port()
    flask = [str(VENV_BIN / "flask"), "--app", "app", "run", "--no-reload"]
    if port_from == "argument":
        run = start_run([*flask, "--port", str(port)], "--socket", str(port))
    else:  # nothing on the command line names the port: the failed bind is reported
        run = start_run(flask, "--socket", str(port), FLASK_RUN_PORT=str(port))
    run.port = port
    run.wait_for_log(r"reloadd: the command binds port \d+ itself")
    answer = request(run.url, timeout=10.0)
    assert answer is not None, "the request hung while flask was down"
    status, page = answer
    assert status == 503
    assert "flask --app app run --no-reload" in page
    assert "exited with code 1" in page
    assert "docs/run.md" in page


def test_a_module_whose_import_failed_in_a_request_is_watched_until_fixed(
    daemon: DaemonProcess, project: Path, tmp_path: Path, runs: list[Run]
) -> None:
    # Outside the project, on PYTHONPATH: only the failed import itself can name this file.
    lib = tmp_path / "lib"
    lib.mkdir()
    broken = lib / "outside_lib.py"
    broken.write_text("TEXT = (\n")
    (project / "app.py").write_text(LAZY_FLASK_APP)
    run = start_app(project, tmp_path, runs, "app.py", PYTHONPATH=str(lib))
    wait_for_failure(run)
    starts = len(run.starts())
    broken.write_text("TEXT = 'fixed'\n")
    run.wait_for_starts(starts + 1)
    assert run.wait_for_response("fixed").startswith("fixed from ")


def test_python_files_of_the_project_on_sys_path_are_watched_as_werkzeug_does(
    daemon: DaemonProcess, project: Path, tmp_path: Path, runs: list[Run]
) -> None:
    (project / "app.py").write_text(FLASK_APP)
    set_greeting(project, "v1")
    (project / "tools").mkdir()
    helper = project / "tools" / "helper.py"  # imported by nobody, in a sys.path folder's tree
    helper.write_text("X = 1\n")
    run = start_app(project, tmp_path, runs, "app.py")
    run.wait_for_response("v1")
    starts = len(run.starts())
    (project / "notes.txt").write_text("not Python\n")
    # Nothing may happen now; only a quiet period can show that (no signal to wait on).
    time.sleep(QUIET_PERIOD)
    assert len(run.starts()) == starts, "only .py files count"
    helper.write_text("X = 2\n")
    run.wait_for_starts(starts + 1)
    run.wait_for_log(r"Detected change in '.*helper\.py', reloading")
