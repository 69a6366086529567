"""``reloadd run --warm`` with real processes: the same answers as cold, restarts forked from a template.

The app is ``run_apps.HTTP_APP`` that also imports ``thirdparty`` from a folder on
``PYTHONPATH`` outside the project (``lib/``, a third-party module the template
preloads) and answers ``<greeting> <thirdparty> from <pid>``. A test waits for the
supervisor's ``is ready`` line before an edit that must be forked: the template is
prepared once the child serves. ``RELOADD_WARM_READY_WAIT`` lets a restart wait for a
template still importing on this busy machine instead of starting cold.
"""

from __future__ import annotations

import os
import re
import signal
import time
from pathlib import Path

import pytest

from reloadd.client.warm.handle import TEMPLATE
from tests.daemon_process import DaemonProcess
from tests.integration.dev_server import (
    RESPONSE_TIMEOUT,
    VENV_BIN,
    DevServerProcess,
    StartRun,
    get,
    live_group_members,
    set_greeting,
)
from tests.integration.run_apps import HTTP_APP, PYTHON_APP, write_app

APP = "import thirdparty\n" + HTTP_APP.replace(
    'body = f"{greeting.TEXT} from {os.getpid()}".encode()',
    'body = f"{greeting.TEXT} {thirdparty.TEXT} from {os.getpid()}".encode()',
)

FASTAPI_APP = """\
import os

from fastapi import FastAPI
from fastapi.responses import PlainTextResponse

import greeting

with open("starts.log", "a") as log:
    log.write(f"{os.getpid()}\\n")

app = FastAPI()


@app.get("/", response_class=PlainTextResponse)
def index() -> str:
    return f"{greeting.TEXT} from {os.getpid()}"
"""

SLOW_TO_STOP = """\
import os, signal, sys, time

def stop(signum, frame):
    open("stopping", "w").close()
    while os.path.exists("hold"):
        time.sleep(0.01)
    sys.exit(0)

signal.signal(signal.SIGTERM, stop)
"""

FORKED = "forked from the template"


@pytest.fixture
def backend_name() -> str:
    """These tests are about the supervisor: the built-in watcher suffices."""
    return "builtin"


@pytest.fixture
def lib(tmp_path: Path) -> Path:
    """A folder outside the project, on the app's PYTHONPATH, holding ``thirdparty.py``."""
    folder = tmp_path / "lib"
    folder.mkdir()
    set_thirdparty(folder, "lib1")
    return folder


def set_thirdparty(lib: Path, text: str) -> None:
    """Rewrite the third-party module (a later modification time than before, always)."""
    path = lib / "thirdparty.py"
    before = path.stat().st_mtime_ns if path.exists() else 0
    path.write_text(f"TEXT = {text!r}\n")
    if path.stat().st_mtime_ns <= before:
        os.utime(path, ns=(before + 1_000_000, before + 1_000_000))


def start_app(start_run: StartRun, lib: Path, *options: str, **env: str) -> DevServerProcess:
    """``reloadd run [OPTIONS] -- python app.py`` with ``lib`` on ``PYTHONPATH``."""
    return start_run(
        PYTHON_APP,
        *options,
        PYTHONPATH=str(lib),
        RELOADD_WARM_READY_WAIT=str(RESPONSE_TIMEOUT),
        **env,
    )


def wait_ready_line(run: DevServerProcess, count: int) -> None:
    """Wait for the supervisor's ``count``-th ``is ready`` line (a template is prepared then)."""
    deadline = time.monotonic() + RESPONSE_TIMEOUT
    while run.log().count(" is ready: ") < count:
        assert time.monotonic() < deadline, run.log()
        time.sleep(0.02)


def templates_of(project: Path) -> list[int]:
    """The live template processes started for ``project``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if str(TEMPLATE).encode() in argv and str(project).encode() in argv and state != "Z":
            found.append(int(entry.name))
    return found


# -- the tests ------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["cold", "warm"])
def test_warm_and_cold_serve_the_same_over_a_sequence_of_edits(
    daemon: DaemonProcess, project: Path, lib: Path, start_run: StartRun, mode: str
) -> None:
    write_app(project, APP)
    run = start_app(start_run, lib, *(["--warm"] if mode == "warm" else []))
    answers = [run.wait_for_response("v1 lib1")]
    wait_ready_line(run, 1)

    set_greeting(project, "v2")  # a project module
    answers.append(run.wait_for_response("v2 lib1"))
    wait_ready_line(run, 2)
    set_thirdparty(lib, "lib2")  # a preloaded module, outside the project
    answers.append(run.wait_for_response("v2 lib2"))
    wait_ready_line(run, 3)
    (project / "greeting.py").write_text('TEXT = "unterminated\n')  # a syntax error
    crash = run.wait_for_log(
        r"python app\.py exited with code (\d+) after [\d.]+ s \(the traceback ends in greeting\.py\)"
    )
    set_greeting(project, "v3")  # and its fix
    answers.append(run.wait_for_response("v3 lib2"))
    run.signal(signal.SIGTERM)
    assert run.wait() == 0

    starts = run.starts()
    assert [answer.rsplit(" from ", 1) for answer in answers] == [
        ["v1 lib1", str(starts[0])],
        ["v2 lib1", str(starts[1])],
        ["v2 lib2", str(starts[2])],
        ["v3 lib2", str(starts[-1])],
    ]
    assert crash.group(1) == "1"
    restarts = re.findall(
        r"greeting\.py changed; restarted in \d+ ms(, forked from the template)?", run.log()
    )
    if mode == "warm":
        assert restarts[0] == f", {FORKED}", run.log()
    else:
        assert FORKED not in run.log()
        assert "starting cold" not in run.log()


def test_socket_connections_made_during_a_warm_restart_are_served(
    daemon: DaemonProcess, project: Path, lib: Path, start_run: StartRun
) -> None:
    write_app(project, APP)
    run = start_app(start_run, lib, "--warm", "--socket", "127.0.0.1:0", APP_START_DELAY="1.0")
    run.port = int(run.wait_for_log(r"listening on 127\.0\.0\.1:(\d+)").group(1))
    run.wait_for_response("v1 lib1")
    wait_ready_line(run, 1)
    set_greeting(project, "v2")
    first, second = run.wait_for_starts(2)
    assert not live_group_members(first)
    # The forked child sleeps a second before it accepts: this connection waits for it.
    began = time.monotonic()
    assert get(run.url, timeout=10.0) == f"v2 lib1 from {second}"
    assert time.monotonic() - began > 0.3, "the request was made while the child was starting"
    assert FORKED in run.wait_for_log(r"greeting\.py changed; restarted in .*").group(0)


def test_a_fastapi_app_under_uvicorn_restarts_warm(
    daemon: DaemonProcess, project: Path, start_run: StartRun
) -> None:
    write_app(project, FASTAPI_APP)
    run = start_run(
        [str(VENV_BIN / "uvicorn"), "app:app", "--port", "{port}"],
        "--warm",
        RELOADD_WARM_READY_WAIT=str(RESPONSE_TIMEOUT),
    )
    run.wait_for_response("v1")
    wait_ready_line(run, 1)
    set_greeting(project, "v2")
    answer = run.wait_for_reload("v2")
    assert answer == f"v2 from {run.starts()[1]}"
    assert FORKED in run.wait_for_log(r"greeting\.py changed; restarted in .*").group(0)
    set_greeting(project, "v3")
    run.wait_for_reload("v3")


def test_killing_the_template_mid_restart_falls_back_cold_without_losing_the_change(
    daemon: DaemonProcess, project: Path, lib: Path, start_run: StartRun
) -> None:
    write_app(project, SLOW_TO_STOP + APP)
    run = start_app(start_run, lib, "--warm")
    run.wait_for_response("v1 lib1")
    wait_ready_line(run, 1)
    deadline = time.monotonic() + RESPONSE_TIMEOUT
    while not templates_of(project):
        assert time.monotonic() < deadline, "no template was started"
        time.sleep(0.02)
    (template,) = templates_of(project)
    (project / "hold").touch()
    set_greeting(project, "v2")
    deadline = time.monotonic() + RESPONSE_TIMEOUT
    while not (project / "stopping").exists():  # the restart has begun: the child is stopping
        assert time.monotonic() < deadline, run.log()
        time.sleep(0.01)
    os.kill(template, signal.SIGKILL)
    (project / "hold").unlink()
    run.wait_for_response("v2 lib1")
    assert re.search(
        r"starting cold: the template was killed by SIGKILL before it was (ready|forked)",
        run.log(),
    ), run.log()
    assert FORKED not in run.log()
    # The next restart forks again, from a new template.
    wait_ready_line(run, 2)
    set_greeting(project, "v3")
    run.wait_for_response("v3 lib1")
    assert FORKED in run.wait_for_log(r"greeting\.py changed; restarted in .*forked.*").group(0)


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGKILL])
def test_no_template_outlives_the_supervisor(
    daemon: DaemonProcess, project: Path, lib: Path, start_run: StartRun, stop: signal.Signals
) -> None:
    write_app(project, APP)
    run = start_app(start_run, lib, "--warm")
    run.wait_for_response("v1 lib1")
    wait_ready_line(run, 1)
    set_greeting(project, "v2")
    run.wait_for_response("v2 lib1")
    wait_ready_line(run, 2)
    deadline = time.monotonic() + RESPONSE_TIMEOUT
    while not templates_of(project):  # the next restart's template
        assert time.monotonic() < deadline, "no template was started after the fork"
        time.sleep(0.02)
    assert run.process is not None
    run.process.send_signal(stop)  # the supervisor alone, not its group
    assert run.wait() == (0 if stop == signal.SIGTERM else -signal.SIGKILL)
    deadline = time.monotonic() + RESPONSE_TIMEOUT
    while templates_of(project):
        assert time.monotonic() < deadline, f"templates still run: {templates_of(project)}"
        time.sleep(0.02)
    if stop == signal.SIGTERM:
        assert all(not live_group_members(pid) for pid in run.starts())


def test_a_command_that_is_not_python_says_once_that_it_starts_cold(
    daemon: DaemonProcess, project: Path, start_run: StartRun
) -> None:
    (project / "conf.ini").write_text("a=1\n")
    run = start_run(
        ["sh", "-c", "echo $$ >> starts.log; exec sleep 60"], "--warm", "--watch", "conf.ini"
    )
    run.wait_for_starts(1)
    (project / "conf.ini").write_text("a=2\n")
    run.wait_for_starts(2)
    run.wait_for_log(r"conf\.ini changed; restarted")
    assert run.log().count("starting cold: 'sh' is not a Python program or script") == 1


def test_without_warm_no_template_runs(
    daemon: DaemonProcess, project: Path, lib: Path, start_run: StartRun
) -> None:
    write_app(project, APP)
    run = start_app(start_run, lib)
    run.wait_for_response("v1 lib1")
    wait_ready_line(run, 1)
    assert templates_of(project) == []


def test_a_preloaded_module_that_starts_a_thread_makes_one_cold_restart_then_is_left_out(
    daemon: DaemonProcess, project: Path, lib: Path, start_run: StartRun
) -> None:
    (lib / "threaded.py").write_text(
        "import threading, time\n"
        "threading.Thread(target=time.sleep, args=(3600,), daemon=True).start()\n"
    )
    write_app(project, "import threaded\n" + APP)
    run = start_app(start_run, lib, "--warm")
    run.wait_for_response("v1 lib1")
    wait_ready_line(run, 1)
    set_greeting(project, "v2")
    run.wait_for_response("v2 lib1")
    run.wait_for_log(
        "reloadd: starting cold: the template cannot be used: importing threaded started a "
        "thread; threaded is left out from now on"
    )
    assert FORKED not in run.log()
    wait_ready_line(run, 2)
    set_greeting(project, "v3")
    run.wait_for_response("v3 lib1")
    assert FORKED in run.wait_for_log(r"greeting\.py changed; restarted in .*forked.*").group(0)
