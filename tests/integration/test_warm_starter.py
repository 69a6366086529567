"""``WarmStarter`` with real processes: a forked child is indistinguishable from a cold one.

Each test writes ``probe.py`` into a project folder, plus a third-party module in a
folder on ``PYTHONPATH`` outside the project (``lib/``). The probe dumps what a fresh
run must have (pid, parent, session, argv, ``__main__``, working folder, descriptors,
signal mask and handlers, environment, random state, who imported which module) into
``probe-<pid>.json`` and then does what ``action.txt`` says (exit with a code, raise,
wait for a signal). The reference is the same command under ``subprocess``, as
``reloadd run`` without ``--warm`` starts it.

The test process becomes a subreaper for the test's duration (a fixture turns it off
again, and stops every template and child by pid).
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
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


@pytest.fixture
def starters() -> Iterator[list[WarmStarter]]:
    """Starters to close after the test (their templates stopped by pid); the test process
    is a subreaper meanwhile."""
    made: list[WarmStarter] = []
    yield made
    for starter in made:
        starter.close()
    become_subreaper(False)


@pytest.fixture
def children() -> Iterator[list[StartedChild]]:
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


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Project:
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


# -- the tests ------------------------------------------------------------------------------------


@pytest.mark.parametrize("how", [["probe.py", "first", "--second"], ["-m", "probe", "first"]])
def test_a_forked_child_looks_like_a_fresh_run(
    project: Project, starters: list[WarmStarter], children: list[StartedChild], how: list[str]
) -> None:
    project.command = [sys.executable, *how]
    _, _, cold = project.cold()
    said: list[str] = []
    starter = make_starter(project, starters, said)
    first = start(starter, children, warm=True)
    assert first.wait(WAIT) == 0
    second = start(starter, children, warm=True)
    assert second.wait(WAIT) == 0
    warm, again = project.probe(first.pid), project.probe(second.pid)

    for state in (warm, again):
        assert state["pid"] == state["pgid"] == state["sid"]  # a session of its own
        assert state["ppid"] == os.getpid()  # the supervisor's child, which waits for it
        assert state["threads"] == 1
    # The third-party module came from the template; the project's module was imported afresh.
    assert warm["thirdparty"][1] not in (warm["pid"], cold["pid"])
    assert cold["thirdparty"][1] == cold["pid"]
    assert warm["greeting"] == ["hello", warm["pid"]]
    # Fresh random state in each child.
    assert len({warm["random"], again["random"], cold["random"]}) == 3
    assert len({warm["uuid"], again["uuid"], cold["uuid"]}) == 3
    # Everything else as a fresh run has it.
    same = ("argv", "orig_argv", "cmdline", "name", "file", "main_is_this", "spec", "cached", "loader",
            "cwd", "path0", "fds", "mask", "handlers", "env")  # fmt: skip
    for key in same:
        assert warm[key] == cold[key], key
    assert warm["argv"][1:] == (how[2:] if how[0] == "-m" else how[1:])
    assert warm["file"] == str(project.root / "probe.py")
    assert warm["name"] == "__main__"
    assert warm["fds"] == [0, 1, 2, 3]  # 3: the probe's own listing of /proc/self/fd
    assert said == []


def test_exit_statuses_and_tracebacks_are_those_of_a_cold_run(
    project: Project,
    starters: list[WarmStarter],
    children: list[StartedChild],
    capfd: pytest.CaptureFixture[str],
) -> None:
    starter = make_starter(project, starters, [])
    for action in ("exit:7", "raise", "exit:0"):
        project.action(action)
        code, cold_err, _ = project.cold()
        capfd.readouterr()
        child = start(starter, children, warm=True)
        assert child.wait(WAIT) == code, action
        warm_err = capfd.readouterr().err
        assert _normal(warm_err) == _normal(cold_err), action

    project.action("wait")
    child = start(starter, children, warm=True)
    _wait_for(project.root / f"waiting-{child.pid}")
    child.send_signal(signal.SIGTERM)
    assert child.wait(WAIT) == -signal.SIGTERM
    child = start(starter, children, warm=True)
    _wait_for(project.root / f"waiting-{child.pid}")
    os.killpg(child.pid, signal.SIGKILL)  # the group: as reloadd run stops a child
    assert child.wait(WAIT) == -signal.SIGKILL


def test_a_raised_exception_prints_the_same_traceback(
    project: Project,
    starters: list[WarmStarter],
    children: list[StartedChild],
    capfd: pytest.CaptureFixture[str],
) -> None:
    project.action("raise")
    code, cold_err, _ = project.cold()
    assert code == 1
    assert 'probe.py", line' in cold_err
    starter = make_starter(project, starters, [])
    capfd.readouterr()
    child = start(starter, children, warm=True)
    assert child.wait(WAIT) == 1
    warm_err = capfd.readouterr().err
    assert "template.py" not in warm_err
    assert "fresh.py" not in warm_err
    assert _normal(warm_err) == _normal(cold_err)


def test_listen_sockets_are_handed_over_as_fd_3_with_the_childs_pid(
    project: Project, starters: list[WarmStarter], children: list[StartedChild]
) -> None:
    starter = make_starter(project, starters, [])
    with socket.create_server(("127.0.0.1", 0)) as listener:
        child = start(starter, children, warm=True, listen_fds=[listener.fileno()])
        assert child.wait(WAIT) == 0
    state = project.probe(child.pid)
    assert state["env"]["LISTEN_FDS"] == "1"
    assert state["env"]["LISTEN_PID"] == str(child.pid)
    assert state["fds"] == [0, 1, 2, 3, 4]


def test_a_changed_environment_starts_cold_then_warm_with_it(
    project: Project, starters: list[WarmStarter], children: list[StartedChild]
) -> None:
    said: list[str] = []
    starter = make_starter(project, starters, said)
    changed = dict(project.env, PROBE_MARK="2")
    child = start(starter, children, warm=False, env=changed)
    assert child.wait(WAIT) == 0
    assert project.probe(child.pid)["env"]["PROBE_MARK"] == "2"
    assert said == ["starting cold: the environment changed (PROBE_MARK)"]
    child = start(starter, children, warm=True, env=changed)
    assert child.wait(WAIT) == 0
    assert project.probe(child.pid)["env"]["PROBE_MARK"] == "2"


def test_an_edited_preloaded_module_starts_cold_then_warm_with_the_new_text(
    project: Project, starters: list[WarmStarter], children: list[StartedChild]
) -> None:
    said: list[str] = []
    starter = make_starter(project, starters, said)
    child = start(starter, children, warm=True)
    assert child.wait(WAIT) == 0
    assert project.probe(child.pid)["thirdparty"][0] == "library v1"
    _wait_template_ready(starter)
    project.write_module("thirdparty", "library v2", folder=project.lib)
    child = start(starter, children, warm=False)
    assert child.wait(WAIT) == 0
    assert project.probe(child.pid)["thirdparty"][0] == "library v2"
    assert said == [
        f"starting cold: {project.lib / 'thirdparty.py'} changed since the template imported it"
    ]
    child = start(starter, children, warm=True)
    assert child.wait(WAIT) == 0
    assert project.probe(child.pid)["thirdparty"] == ["library v2", _not(child.pid)]


def test_a_module_that_starts_a_thread_spoils_the_template_once_then_is_left_out(
    project: Project, starters: list[WarmStarter], children: list[StartedChild]
) -> None:
    (project.lib / "threaded.py").write_text(
        "import os, threading, time\nIMPORTED_BY = os.getpid()\n"
        "threading.Thread(target=time.sleep, args=(3600,), daemon=True).start()\n"
    )
    (project.root / "probe.py").write_text("import threaded\n" + PROBE)
    said: list[str] = []
    starter = make_starter(project, starters, said)
    child = start(starter, children, warm=False)
    assert child.wait(WAIT) == 0
    assert said == [
        "starting cold: the template cannot be used: importing threaded started a thread; "
        "threaded is left out from now on"
    ]
    child = start(starter, children, warm=True)
    assert child.wait(WAIT) == 0
    state = project.probe(child.pid)
    assert state["extra"]["threaded"] == child.pid  # the child imported it itself
    assert state["threads"] == 2


def test_a_module_that_imports_the_project_is_left_out(
    project: Project, starters: list[WarmStarter], children: list[StartedChild]
) -> None:
    (project.lib / "uses_project.py").write_text(
        "import os\nimport greeting\nIMPORTED_BY = os.getpid()\n"
    )
    (project.root / "probe.py").write_text("import uses_project\n" + PROBE)
    starter = make_starter(project, starters, [])
    child = start(starter, children, warm=True)
    assert child.wait(WAIT) == 0
    state = project.probe(child.pid)
    assert state["extra"]["uses_project"] == child.pid
    assert state["greeting"] == ["hello", child.pid]
    assert "imports the project module greeting" in starter.learned.skip["uses_project"]


def test_a_killed_template_falls_back_cold_and_the_next_one_forks(
    project: Project, starters: list[WarmStarter], children: list[StartedChild]
) -> None:
    said: list[str] = []
    starter = make_starter(project, starters, said)
    _wait_template_ready(starter)
    assert starter.template is not None
    os.kill(starter.template.pid, signal.SIGKILL)
    project.write_module("greeting", "changed meanwhile")
    child = start(starter, children, warm=False)
    assert child.wait(WAIT) == 0
    assert project.probe(child.pid)["greeting"][0] == "changed meanwhile"
    assert len(said) == 1
    assert re.fullmatch(
        r"starting cold: the template was killed by SIGKILL before it was forked", said[0]
    )
    child = start(starter, children, warm=True)
    assert child.wait(WAIT) == 0


def test_close_leaves_nothing_running(
    project: Project, starters: list[WarmStarter], children: list[StartedChild]
) -> None:
    starter = make_starter(project, starters, [])
    project.action("wait")
    child = start(starter, children, warm=True)
    _wait_for(project.root / f"waiting-{child.pid}")
    _wait_template_ready(starter)
    assert starter.template is not None
    template = starter.template.pid
    os.killpg(child.pid, signal.SIGTERM)
    assert child.wait(WAIT) == -signal.SIGTERM
    starter.close()
    assert not _alive(template)
    assert not live_group_members(child.pid)
    assert not [pid for pid in _children_of(os.getpid()) if "template.py" in _cmdline(pid)]


def test_a_command_that_is_not_python_starts_cold_and_says_why(
    project: Project, starters: list[WarmStarter], children: list[StartedChild]
) -> None:
    said: list[str] = []
    starter = WarmStarter(
        ["/bin/sh", "-c", "exit 4"],
        env=project.env,
        cwd=project.root,
        root=project.root,
        state_dir=project.state,
        say=said.append,
    )
    starters.append(starter)
    starter.learn(["json"])
    starter.child_ready()
    for _ in range(2):
        child = start(starter, children, warm=False)
        assert child.wait(WAIT) == 4
    assert said == ["starting cold: '/bin/sh' is not a Python program or script"]


# -- helpers --------------------------------------------------------------------------------------


def _normal(text: str) -> str:
    return re.sub(r"\d{2,}", "N", text)


def _not(pid: int) -> Any:
    class NotPid:
        def __eq__(self, other: object) -> bool:
            return other != pid

    return NotPid()


def _wait_for(path: Path) -> None:
    deadline = time.monotonic() + WAIT
    while not path.exists():
        assert time.monotonic() < deadline, f"{path.name} never appeared"
        time.sleep(0.01)


def _wait_template_ready(starter: WarmStarter) -> None:
    assert starter.template is not None
    starter.template.wait_ready(WAIT)


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


def _children_of(parent: int) -> list[int]:
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


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_text().replace("\0", " ")
    except OSError:
        return ""


def test_a_template_stuck_in_an_import_is_waited_for_once_then_given_up(
    project: Project,
    starters: list[WarmStarter],
    children: list[StartedChild],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    (project.lib / "hangs.py").write_text("import time\ntime.sleep(3600)\n")
    monkeypatch.setenv("RELOADD_WARM_READY_WAIT", "0.5")
    monkeypatch.setattr("reloadd.client.warm.starter.HUNG_AFTER", 2.0)
    said: list[str] = []
    starter = make_starter(project, starters, said, "hangs")
    assert starter.template is not None
    stuck = starter.template
    for _ in range(2):  # waited for once, kept, then not waited for again
        child = start(starter, children, warm=False)
        assert child.wait(WAIT) == 0
        assert starter.template is stuck
    assert said == ["starting cold: the template is still importing"]
    while time.monotonic() - stuck.started < 2.0:
        time.sleep(0.05)
    child = start(starter, children, warm=False)
    assert child.wait(WAIT) == 0
    assert re.fullmatch(r"starting cold: the template did not finish importing in \d s", said[-1])
    assert not stuck.alive()


def test_what_a_forked_child_leaves_behind_is_reaped_not_left_a_zombie(
    project: Project, starters: list[WarmStarter], children: list[StartedChild]
) -> None:
    # The child starts a grandchild in its group and exits: the grandchild is adopted by this
    # (subreaper) process when the child is gone; stopping the group must not leave a zombie.
    (project.root / "probe.py").write_text(
        "import subprocess\nimport greeting, thirdparty\n"
        "grandchild = subprocess.Popen(['sleep', '60'])\n"
        "open(f'grandchild-{grandchild.pid}', 'w').close()\n"
    )
    starter = make_starter(project, starters, [])
    child = start(starter, children, warm=True)
    assert child.wait(WAIT) == 0
    (marker,) = project.root.glob("grandchild-*")
    grandchild = int(marker.name.split("-")[1])
    assert _alive(grandchild)
    os.killpg(child.pid, signal.SIGKILL)
    deadline = time.monotonic() + WAIT
    while Path(f"/proc/{grandchild}").exists():
        assert time.monotonic() < deadline, "the grandchild was left a zombie"
        child.poll()  # what the supervisor does while it waits for the group to be gone
        time.sleep(0.01)


def test_a_python_that_cannot_run_the_template_starts_cold_then_gives_up(
    project: Project,
    tmp_path: Path,
    starters: list[WarmStarter],
    children: list[StartedChild],
) -> None:
    # A "python" that runs programs but dies on the template (as a too old Python would).
    fake = tmp_path / "bin" / "python-old"
    fake.parent.mkdir()
    fake.write_text(
        "#!/bin/sh\n"
        'case "$1" in */template.py) echo "too old for the template" >&2; exit 3;; esac\n'
        f'exec {sys.executable} "$@"\n'
    )
    fake.chmod(0o755)
    project.command = [str(fake), "probe.py"]
    said: list[str] = []
    starter = make_starter(project, starters, said)
    for _ in range(4):
        child = start(starter, children, warm=False)
        assert child.wait(WAIT) == 0
        assert project.probe(child.pid)["greeting"][0] == "hello"
    assert said == [
        "starting cold: the template exited with code 3 before it was ready",
        "starting cold: 3 templates in a row failed (the last: the template exited with code 3 "
        "before it was ready)",
    ]
    assert starter.template is None


def test_a_virtualenv_inside_the_project_is_third_party_and_an_install_into_it_is_seen(
    project: Project, starters: list[WarmStarter], children: list[StartedChild]
) -> None:
    venv = project.root / ".venv"
    subprocess.run(
        [sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120
    )
    python = venv / "bin" / "python"
    code = "import sysconfig; print(sysconfig.get_paths()['purelib'])"
    site = Path(subprocess.check_output([str(python), "-c", code], text=True).strip())
    (project.lib / "thirdparty.py").unlink()
    project.write_module("thirdparty", "installed v1", folder=site)
    project.env.pop("PYTHONPATH")
    project.command = [str(python), "probe.py"]
    said: list[str] = []
    starter = make_starter(project, starters, said)
    child = start(starter, children, warm=True)
    assert child.wait(WAIT) == 0
    state = project.probe(child.pid)
    assert state["thirdparty"] == ["installed v1", _not(child.pid)]  # preloaded, under the root
    assert state["greeting"] == ["hello", child.pid]
    _wait_template_ready(starter)
    project.write_module("thirdparty", "installed v2", folder=site)  # as pip would
    child = start(starter, children, warm=False)
    assert child.wait(WAIT) == 0
    assert project.probe(child.pid)["thirdparty"][0] == "installed v2"
    assert said == [
        f"starting cold: {(site / 'thirdparty.py').relative_to(project.root)} changed since "
        "the template imported it"
    ]


def test_a_module_that_starts_a_process_at_import_spoils_the_template_once(
    project: Project, starters: list[WarmStarter], children: list[StartedChild]
) -> None:
    (project.lib / "spawns.py").write_text(
        "import os, subprocess\nIMPORTED_BY = os.getpid()\n"
        "helper = subprocess.Popen(['sleep', '60'])\n"
        "open(f'helper-{helper.pid}', 'w').close()\n"
    )
    said: list[str] = []
    starter = make_starter(project, starters, said, "spawns")
    try:
        child = start(starter, children, warm=False)
        assert child.wait(WAIT) == 0
        assert said == [
            "starting cold: the template cannot be used: importing spawns started a process; "
            "spawns is left out from now on"
        ]
        child = start(starter, children, warm=True)
        assert child.wait(WAIT) == 0
    finally:
        for marker in project.root.glob("helper-*"):
            pid = int(marker.name.split("-")[1])
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                continue
            if _alive(pid) or Path(f"/proc/{pid}").exists():
                try:
                    os.waitpid(
                        pid, 0
                    )  # adopted by this process (a subreaper) once the template went
                except ChildProcessError:
                    pass


def test_a_fork_the_supervisor_was_not_told_of_is_found_and_stopped() -> None:
    # A template that forked but died before naming its fork leaves a process with the
    # template's environment; the supervisor finds it among its descendants and stops it.
    from reloadd.client.run.child_hook import TEMPLATE_ENV
    from reloadd.client.warm.strays import now_ticks, stop_strays

    sleeper = [sys.executable, "-c", "import time; time.sleep(60)"]
    marked = dict(os.environ, **{TEMPLATE_ENV: "1"})
    before = subprocess.Popen(sleeper, env=marked, start_new_session=True)
    since = now_ticks() + 1
    deadline = time.monotonic() + WAIT
    while now_ticks() < since:  # the next processes start a clock tick later
        assert time.monotonic() < deadline
        time.sleep(0.001)
    stray = subprocess.Popen(sleeper, env=marked, start_new_session=True)
    template = subprocess.Popen(sleeper, env=marked, start_new_session=True)
    unmarked = subprocess.Popen(sleeper, start_new_session=True)
    try:
        assert stop_strays(since, template=template.pid) == [stray.pid]
        assert not _alive(stray.pid)
        assert all(_alive(p.pid) for p in (before, template, unmarked))
    finally:
        for process in (before, stray, template, unmarked):
            process.kill()
            process.wait(WAIT)
