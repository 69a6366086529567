"""A dev server as a real process, for the integration tests of ``reloadd run`` and werkzeug.

Modelled on werkzeug's ``dev_server`` fixture: :class:`DevServerProcess` starts a
command in its own session with its output logged into ``tmp_path``, and offers
:meth:`~DevServerProcess.wait_ready`, :meth:`~DevServerProcess.wait_for_log` and
:meth:`~DevServerProcess.wait_for_reload`, each with a deadline. The test apps
append their pid to ``starts.log`` in the project when they start, which is how
starts and reloads are counted. The fixtures ``runs`` and ``start_run`` stop
every process they started, and every child's process group, by pid.

``tests/integration/conftest.py`` makes the fixtures available to every integration test.
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
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

import pytest

from tests.net import free_port

RESPONSE_TIMEOUT = 30.0
"""Seconds to wait for an expected response (the first registration makes the daemon crawl
the standard library and site-packages)."""

STOP_TIMEOUT = 10.0
"""Seconds a process has to exit once signalled (then its group is SIGKILLed)."""

VENV_BIN = Path(sys.executable).parent
"""The folder of this interpreter's console scripts (``flask``, ``uvicorn``)."""

_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def set_greeting(project: Path, text: str) -> None:
    """Rewrite ``greeting.py`` so that the test apps answer ``text``."""
    (project / "greeting.py").write_text(f"TEXT = {text!r}\n")


class DevServerProcess:
    """A dev-server process in ``project`` (``reloadd run ...`` or the app itself), logging to a file."""

    def __init__(self, project: Path, log_path: Path, argv: list[str], port: int) -> None:
        self.project = project
        self.log_path = log_path
        self.argv = argv
        self.port = port
        self.process: subprocess.Popen[bytes] | None = None

    @classmethod
    def supervisor(
        cls, project: Path, log_path: Path, options: list[str], command: list[str], port: int
    ) -> DevServerProcess:
        """``reloadd run --root PROJECT [OPTIONS] -- COMMAND``."""
        argv = [sys.executable, "-m", "reloadd.client.cli", "run", "--root", str(project)]
        return cls(project, log_path, [*argv, *options, "--", *command], port)

    def start(self, **env: str) -> DevServerProcess:
        """Start the process in its own session (``$PORT`` is the port)."""
        environment = dict(os.environ, PORT=str(self.port), **env)
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                self.argv,
                cwd=self.project,
                env=environment,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return self

    @property
    def url(self) -> str:
        """The app's address."""
        return f"http://127.0.0.1:{self.port}/"

    def log(self) -> str:
        """What the process and its children printed so far."""
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def starts(self) -> list[int]:
        """The pids of the app processes started so far, in order."""
        path = self.project / "starts.log"
        if not path.exists():
            return []
        return [int(line) for line in path.read_text().split()]

    def wait_for_log(self, pattern: str, timeout: float = RESPONSE_TIMEOUT) -> re.Match[str]:
        """Wait until the log matches ``pattern`` (a regular expression); return the match."""
        deadline = time.monotonic() + timeout
        while True:
            found = re.search(pattern, self.log())
            if found:
                return found
            if time.monotonic() > deadline:
                pytest.fail(f"{pattern!r} did not appear in the log:\n{self.log()}")
            time.sleep(0.02)

    def wait_for_starts(self, count: int, timeout: float = RESPONSE_TIMEOUT) -> list[int]:
        """Wait until ``count`` app processes have started."""
        deadline = time.monotonic() + timeout
        while len(self.starts()) < count:
            if time.monotonic() > deadline:
                pytest.fail(f"{len(self.starts())} starts, expected {count}:\n{self.log()}")
            time.sleep(0.02)
        return self.starts()

    def wait_for_response(self, expected: str, timeout: float = RESPONSE_TIMEOUT) -> str:
        """Request the app until a 200 answer starts with ``expected``; return the whole answer."""
        deadline = time.monotonic() + timeout
        answer = None
        while time.monotonic() < deadline:
            answer = get(self.url)
            if answer is not None and answer.startswith(expected):
                return answer
            time.sleep(0.05)
        pytest.fail(f"the app answered {answer!r}, not {expected!r}:\n{self.log()}")

    def wait_ready(self, timeout: float = RESPONSE_TIMEOUT) -> str:
        """Wait until the app answers 200; return the answer."""
        return self.wait_for_response("", timeout)

    def wait_for_reload(self, expected: str, timeout: float = RESPONSE_TIMEOUT) -> str:
        """Wait for one more app start than now, then for an answer starting with ``expected``."""
        self.wait_for_starts(len(self.starts()) + 1, timeout)
        return self.wait_for_response(expected, timeout)

    def signal(self, signum: int) -> None:
        """Send a signal to the process."""
        assert self.process is not None
        self.process.send_signal(signum)

    def wait(self, timeout: float = STOP_TIMEOUT) -> int:
        """Wait for the process to exit; return its status."""
        assert self.process is not None
        return self.process.wait(timeout)

    def stop(self) -> None:
        """Stop the process's group and, whatever happened, every app's process group."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(STOP_TIMEOUT)
        groups = [self.process.pid] if self.process is not None else []
        for pgid in [*groups, *self.starts()]:
            if live_group_members(pgid):
                try:
                    os.killpg(pgid, signal.SIGKILL)
                except ProcessLookupError:
                    pass


Run = DevServerProcess
"""The short name the ``reloadd run`` tests use."""


def request(url: str, timeout: float = 5.0) -> tuple[int, str] | None:
    """``(status, body)`` of a GET, or None if the server cannot be reached or cuts it off."""
    try:
        with _OPENER.open(url, timeout=timeout) as response:
            return int(response.status), response.read().decode(errors="replace")
    except urllib.error.HTTPError as exc:
        with exc:
            return int(exc.code), exc.read().decode(errors="replace")
    except (OSError, http.client.HTTPException):  # refused, reset, or cut off by a restart
        return None


def get(url: str, timeout: float = 5.0) -> str | None:
    """The body of a 200 answer to a GET, else None."""
    answer = request(url, timeout)
    return answer[1] if answer is not None and answer[0] == 200 else None


def live_group_members(pgid: int) -> list[int]:
    """The pids of the live (not zombie) processes in process group ``pgid``."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if fields[2] == str(pgid) and fields[0] not in ("Z", "X"):
            members.append(int(entry.name))
    return members


@pytest.fixture
def runs(tmp_path: Path) -> Iterator[list[DevServerProcess]]:
    """Processes started by a test; all stopped (with their children) afterwards."""
    started: list[DevServerProcess] = []
    yield started
    for run in started:
        run.stop()


class StartRun(Protocol):
    """The type of the ``start_run`` fixture."""

    def __call__(self, command: list[str], *options: str, **env: str) -> DevServerProcess: ...


@pytest.fixture
def start_run(runs: list[DevServerProcess], project: Path, tmp_path: Path) -> StartRun:
    """``start_run(command, *options, **env)`` starts ``reloadd run`` in the project.

    ``{port}`` in the command stands for a free port, which the app also finds in ``$PORT``.
    """

    def start(command: list[str], *options: str, **env: str) -> DevServerProcess:
        port = free_port()
        command = [part.replace("{port}", str(port)) for part in command]
        run = DevServerProcess.supervisor(
            project, tmp_path / f"run-{len(runs)}.log", list(options), command, port
        )
        runs.append(run)
        return run.start(**env)

    return start
