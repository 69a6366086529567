"""Watchman watches the standard library and site-packages folders themselves, and gives them back.

A fake pyenv: a git checkout holding many folders, with a ``lib/python3.12`` inside,
as ``~/.pyenv`` is. ``watch-project`` on that folder would watch the whole checkout.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import pywatchman

from reloadd.client import Client
from tests.daemon_process import DaemonProcess
from tests.integration.helpers import cli_stop, edit, expect_changes
from tests.watchman_instance import WatchmanInstance

OTHER_FOLDERS = 300
"""Folders of the fake pyenv checkout outside its standard library."""


@pytest.fixture
def stdlib(tmp_path: Path) -> Path:
    """``<tmp>/pyenv/versions/3.12.1/lib/python3.12`` inside a git checkout with many folders."""
    pyenv = tmp_path / "pyenv"
    (pyenv / ".git").mkdir(parents=True)
    for index in range(OTHER_FOLDERS):
        (pyenv / "plugins" / f"p{index}").mkdir(parents=True)
    folder = pyenv / "versions" / "3.12.1" / "lib" / "python3.12"
    folder.mkdir(parents=True)
    (folder / "os.py").write_text("x = 1\n")
    return folder.resolve()


def _watches(watchman: WatchmanInstance) -> list[str]:
    return sorted(str(root) for root in watchman.command("watch-list")["roots"])


def _inotify_watches(pid: int) -> int:
    count = 0
    for fd in os.listdir(f"/proc/{pid}/fdinfo"):
        try:
            with open(f"/proc/{pid}/fdinfo/{fd}") as info:
                count += sum(1 for line in info if line.startswith("inotify wd:"))
        except OSError:
            continue
    return count


def _start(project: Path, tmp_path: Path, watchman: WatchmanInstance) -> DaemonProcess:
    return DaemonProcess(
        project,
        backend="watchman",
        log_path=tmp_path / "daemon.log",
        watchman_sock=watchman.sockpath,
    ).start()


def test_the_standard_library_is_watched_by_itself_and_given_back(
    project: Path,
    stdlib: Path,
    tmp_path: Path,
    private_watchman: WatchmanInstance,
    daemon_factory: list[DaemonProcess],
) -> None:
    watchman = private_watchman
    assert watchman.pid is not None
    before = _inotify_watches(watchman.pid)
    daemon = _start(project, tmp_path, watchman)
    daemon_factory.append(daemon)
    app, module = project / "app.py", stdlib / "os.py"
    app.write_text("x = 1\n")
    with Client(project, spawn=False) as client:
        client.watch(files=[app, module])
        during = _inotify_watches(watchman.pid)
        assert _watches(watchman) == sorted([str(project), str(stdlib)])
        assert str(stdlib) in client.status().watched_roots
        edit(module)
        expect_changes(client, module)
    assert during - before < OTHER_FOLDERS  # not the whole checkout

    cli_stop(project)
    assert daemon.process is not None
    assert daemon.process.wait(10) == 0
    assert _watches(watchman) == [str(project)]  # the project's watch stays for the next run
    assert f"gave back the Watchman watch of {stdlib}" in daemon.log()


def test_a_watch_that_existed_before_is_reused_and_kept(
    project: Path,
    stdlib: Path,
    tmp_path: Path,
    private_watchman: WatchmanInstance,
    daemon_factory: list[DaemonProcess],
) -> None:
    watchman = private_watchman
    watchman.command("watch", str(stdlib))  # another tool watched it first
    daemon = _start(project, tmp_path, watchman)
    daemon_factory.append(daemon)
    module = stdlib / "os.py"
    with Client(project, spawn=False) as client:
        client.watch(files=[module])
        assert _watches(watchman) == [str(stdlib)]
        edit(module)
        expect_changes(client, module)
    cli_stop(project)
    assert daemon.process is not None
    assert daemon.process.wait(10) == 0
    assert str(stdlib) in _watches(watchman)
    assert "gave back" not in daemon.log()


def test_a_watch_another_client_subscribes_to_is_kept(
    project: Path,
    stdlib: Path,
    tmp_path: Path,
    private_watchman: WatchmanInstance,
    daemon_factory: list[DaemonProcess],
) -> None:
    watchman = private_watchman
    daemon = _start(project, tmp_path, watchman)
    daemon_factory.append(daemon)
    with Client(project, spawn=False) as client:
        client.watch(files=[stdlib / "os.py"])
    other = pywatchman.client(sockpath=watchman.sockpath, timeout=10)
    other.subs, other.sub_by_root, other.logs = {}, {}, []
    try:
        other.query("subscribe", str(stdlib), "someone-else", {"fields": ["name"]})
        cli_stop(project)
        assert daemon.process is not None
        assert daemon.process.wait(10) == 0
    finally:
        other.close()
    assert str(stdlib) in _watches(watchman)
    assert f"keeping the Watchman watch of {stdlib}" in daemon.log()
