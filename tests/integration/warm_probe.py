"""The probe app of the ``WarmStarter`` tests, its project, fixtures and helpers.

The probe (``probe.py``, in a project folder) imports a third-party module from a
folder on ``PYTHONPATH`` outside the project (``lib/``) and a project module, dumps
what a fresh run must have (pid, parent, session, argv, ``__main__``, working folder,
descriptors, signal mask and handlers, environment, random state, who imported which
module) into ``probe-<pid>.json``, then does what ``action.txt`` says (exit with a code,
raise, wait for a signal). The reference is the same command under ``subprocess``, as
``reloadd run`` without ``--warm`` starts it.

The test process becomes a subreaper while a starter exists (the ``starters`` fixture
turns it off again, and stops every template by pid; ``children`` stops every child's
process group).
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from reloadd.client.warm import StartedChild, WarmStarter
from reloadd.client.warm.subreaper import become_subreaper
from tests.integration.dev_server import live_group_members

WAIT = 30.0
"""Seconds a child has to finish (they are tiny; the machine may be busy)."""

PROBE = """\
import json, os, random, signal, sys, time, uuid

import thirdparty
import greeting

state = {
    "pid": os.getpid(),
    "ppid": os.getppid(),
    "pgid": os.getpgid(0),
    "sid": os.getsid(0),
    "argv": sys.argv,
    "orig_argv": getattr(sys, "orig_argv", None),
    "cmdline": open("/proc/self/cmdline", "rb").read().rstrip(b"\\0").decode().split("\\0"),
    "name": __name__,
    "file": __file__,
    "main_is_this": sys.modules["__main__"].__dict__ is globals(),
    "spec": None if __spec__ is None else [__spec__.name, __spec__.origin, type(__spec__.loader).__name__],
    "cached": __cached__,
    "loader": type(__loader__).__name__,
    "cwd": os.getcwd(),
    "path0": sys.path[0],
    "random": random.random(),
    "uuid": str(uuid.uuid4()),
    "fds": sorted(int(fd) for fd in os.listdir("/proc/self/fd")),
    "mask": sorted(int(s) for s in signal.pthread_sigmask(signal.SIG_BLOCK, [])),
    "handlers": {
        name: repr(signal.getsignal(getattr(signal, name)))
        for name in ("SIGINT", "SIGTERM", "SIGPIPE", "SIGCHLD", "SIGHUP", "SIGUSR1", "SIGXFSZ")
    },
    "env": dict(os.environ),
    "threads": len(os.listdir("/proc/self/task")),
    "thirdparty": [thirdparty.TEXT, thirdparty.IMPORTED_BY],
    "greeting": [greeting.TEXT, greeting.IMPORTED_BY],
    "extra": {name: getattr(sys.modules.get(name), "IMPORTED_BY", None) for name in ("threaded", "uses_project")},
}
with open(f"probe-{os.getpid()}.json", "w") as out:
    json.dump(state, out)
with open("action.txt") as file:
    action = file.read().strip()
if action.startswith("exit:"):
    sys.exit(int(action[5:]))
if action == "raise":
    raise ValueError("boom from the probe")
if action == "wait":
    open(f"waiting-{os.getpid()}", "w").close()
    while True:
        time.sleep(0.05)
"""

MODULE = "import os\nTEXT = {text!r}\nIMPORTED_BY = os.getpid()\n"


@pytest.fixture(name="starters")
def starters_fixture() -> Iterator[list[WarmStarter]]:
    """Starters to close after the test (their templates stopped by pid); the test process
    is a subreaper meanwhile."""
    made: list[WarmStarter] = []
    yield made
    for starter in made:
        starter.close()
    become_subreaper(False)


@pytest.fixture(name="children")
def children_fixture() -> Iterator[list[StartedChild]]:
    """Children to stop after the test: each one's process group, by its pid."""
    started: list[StartedChild] = []
    yield started
    for child in started:
        if live_group_members(child.pid):
            os.killpg(child.pid, signal.SIGKILL)
        try:
            child.wait(WAIT)
        except subprocess.TimeoutExpired:
            pass


class Project:
    """The probe's project folder, its third-party folder, and how to start it."""

    def __init__(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.root = tmp_path / "project"
        self.root.mkdir()
        (self.root / "pyproject.toml").write_text("[project]\nname = 'probe'\n")
        (self.root / "probe.py").write_text(PROBE)
        self.lib = tmp_path / "lib"
        self.lib.mkdir()
        self.write_module("greeting", "hello")
        self.write_module("thirdparty", "library v1", folder=self.lib)
        self.action("exit:0")
        self.env = dict(os.environ, PYTHONPATH=str(self.lib), PROBE_MARK="1")
        self.command = [sys.executable, "probe.py", "first", "--second"]
        self.state = tmp_path / "state"
        monkeypatch.setenv("RELOADD_WARM_READY_WAIT", str(WAIT))

    def write_module(self, name: str, text: str, *, folder: Path | None = None) -> None:
        path = (folder or self.root) / f"{name}.py"
        before = path.stat().st_mtime_ns if path.exists() else 0
        path.write_text(MODULE.format(text=text))
        if path.stat().st_mtime_ns == before:  # a coarse clock: make the change visible
            os.utime(path, ns=(before + 1_000_000, before + 1_000_000))

    def action(self, action: str) -> None:
        (self.root / "action.txt").write_text(action)

    def probe(self, pid: int) -> dict[str, Any]:
        result: dict[str, Any] = json.loads((self.root / f"probe-{pid}.json").read_text())
        return result

    def cold(self, env: dict[str, str] | None = None) -> tuple[int, str, dict[str, Any]]:
        """The reference: the command started as ``reloadd run`` starts it without ``--warm``."""
        process = subprocess.run(
            self.command,
            env=env or self.env,
            cwd=self.root,
            start_new_session=True,
            stderr=subprocess.PIPE,
            timeout=WAIT,
            check=False,
        )
        pids = sorted((path.stat().st_mtime_ns, path) for path in self.root.glob("probe-*.json"))
        return process.returncode, process.stderr.decode(), json.loads(pids[-1][1].read_text())


@pytest.fixture(name="project")
def project_fixture(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Project:
    """The probe's project."""
    return Project(tmp_path, monkeypatch)


def make_starter(
    project: Project, starters: list[WarmStarter], said: list[str], *extra: str, **env: str
) -> WarmStarter:
    """A starter for the probe, which has learned its modules and prepares a template."""
    starter = WarmStarter(
        project.command,
        env=dict(project.env, **env),
        cwd=project.root,
        root=project.root,
        state_dir=project.state,
        say=said.append,
    )
    starters.append(starter)
    assert starter.disabled is None, starter.disabled
    starter.learn(["json", "decimal", "uuid", "thirdparty", "greeting", "threaded", "uses_project"])
    starter.learn(extra)
    starter.child_ready()
    return starter


def start(
    starter: WarmStarter, children: list[StartedChild], *, warm: bool, **options: Any
) -> StartedChild:
    """Start the next child; check that it was forked (``warm``) or not."""
    child = starter.start(**options)
    children.append(child)
    assert child.warm is warm
    return child


# -- helpers -------------------------------------------------------------------------------------


def normal(text: str) -> str:
    return re.sub(r"\d{2,}", "N", text)


def not_pid(pid: int) -> Any:
    class NotPid:
        def __eq__(self, other: object) -> bool:
            return other != pid

    return NotPid()


def wait_for(path: Path) -> None:
    deadline = time.monotonic() + WAIT
    while not path.exists():
        assert time.monotonic() < deadline, f"{path.name} never appeared"
        time.sleep(0.01)


def wait_template_ready(starter: WarmStarter) -> None:
    assert starter.template is not None
    starter.template.wait_ready(WAIT)


def children_of(parent: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if fields[1] == str(parent) and fields[0] not in ("Z", "X"):
                found.append(int(entry.name))
    return found


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_text().replace("\0", " ")
    except OSError:
        return ""
