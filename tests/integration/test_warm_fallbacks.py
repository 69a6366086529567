"""``WarmStarter`` with real processes: every reason to start cold, and what is said once.

A module that starts a thread or a process or imports the project at import time, a
killed or stuck template, a Python that cannot run the template, a command that is not
Python, a fork a dying template could not name. Each falls back cold, says why once,
and (where it can) forks again at the next start. The probe is in ``warm_probe.py``.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from reloadd.client.warm import StartedChild, WarmStarter
from tests.integration.warm_probe import (  # noqa: F401  (the fixtures)
    PROBE,
    WAIT,
    Project,
    children_fixture,
    make_starter,
    project_fixture,
    start,
    starters_fixture,
    wait_template_ready,
)
from tests.process_stats import alive


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
            if alive(pid) or Path(f"/proc/{pid}").exists():
                try:
                    os.waitpid(
                        pid, 0
                    )  # adopted by this process (a subreaper) once the template went
                except ChildProcessError:
                    pass


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
    wait_template_ready(starter)
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
        assert not alive(stray.pid)
        assert all(alive(p.pid) for p in (before, template, unmarked))
    finally:
        for process in (before, stray, template, unmarked):
            process.kill()
            process.wait(WAIT)
