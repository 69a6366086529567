"""``WarmStarter`` with real processes: a forked child is indistinguishable from a cold one.

The probe app and its project are in ``warm_probe.py``; each test compares what the
probe saw in a forked child with what it saw in a cold run (``subprocess``, as
``reloadd run`` without ``--warm`` starts it), or with what it must see.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from reloadd.client.warm import StartedChild, WarmStarter
from tests.integration.dev_server import live_group_members
from tests.integration.warm_probe import (  # noqa: F401  (the fixtures)
    WAIT,
    Project,
    children_fixture,
    children_of,
    cmdline,
    make_starter,
    normal,
    not_pid,
    project_fixture,
    start,
    starters_fixture,
    wait_for,
    wait_template_ready,
)
from tests.process_stats import alive


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
        assert normal(warm_err) == normal(cold_err), action

    project.action("wait")
    child = start(starter, children, warm=True)
    wait_for(project.root / f"waiting-{child.pid}")
    child.send_signal(signal.SIGTERM)
    assert child.wait(WAIT) == -signal.SIGTERM
    child = start(starter, children, warm=True)
    wait_for(project.root / f"waiting-{child.pid}")
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
    assert normal(warm_err) == normal(cold_err)


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
    wait_template_ready(starter)
    project.write_module("thirdparty", "library v2", folder=project.lib)
    child = start(starter, children, warm=False)
    assert child.wait(WAIT) == 0
    assert project.probe(child.pid)["thirdparty"][0] == "library v2"
    assert said == [
        f"starting cold: {project.lib / 'thirdparty.py'} changed since the template imported it"
    ]
    child = start(starter, children, warm=True)
    assert child.wait(WAIT) == 0
    assert project.probe(child.pid)["thirdparty"] == ["library v2", not_pid(child.pid)]


def test_close_leaves_nothing_running(
    project: Project, starters: list[WarmStarter], children: list[StartedChild]
) -> None:
    starter = make_starter(project, starters, [])
    project.action("wait")
    child = start(starter, children, warm=True)
    wait_for(project.root / f"waiting-{child.pid}")
    wait_template_ready(starter)
    assert starter.template is not None
    template = starter.template.pid
    os.killpg(child.pid, signal.SIGTERM)
    assert child.wait(WAIT) == -signal.SIGTERM
    starter.close()
    assert not alive(template)
    assert not live_group_members(child.pid)
    assert not [pid for pid in children_of(os.getpid()) if "template.py" in cmdline(pid)]


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
    assert alive(grandchild)
    os.killpg(child.pid, signal.SIGKILL)
    deadline = time.monotonic() + WAIT
    while Path(f"/proc/{grandchild}").exists():
        assert time.monotonic() < deadline, "the grandchild was left a zombie"
        child.poll()  # what the supervisor does while it waits for the group to be gone
        time.sleep(0.01)


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
    assert state["thirdparty"] == ["installed v1", not_pid(child.pid)]  # preloaded, under the root
    assert state["greeting"] == ["hello", child.pid]
    wait_template_ready(starter)
    project.write_module("thirdparty", "installed v2", folder=site)  # as pip would
    child = start(starter, children, warm=False)
    assert child.wait(WAIT) == 0
    assert project.probe(child.pid)["thirdparty"][0] == "installed v2"
    assert said == [
        f"starting cold: {(site / 'thirdparty.py').relative_to(project.root)} changed since "
        "the template imported it"
    ]
