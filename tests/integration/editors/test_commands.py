"""The commands the VS Code and Emacs setups of docs/editors.md run, run from the shell.

Neither editor runs here, so each test takes the command out of the documented file
(``editors/vscode/settings.json``, ``tasks.json``, ``editors/emacs/reloadd.el``),
fills in the editor's variables as the editor does, and runs it against a real daemon.
The file is written through a hard link outside the project, which no watcher sees: the
dev server can then only be told by the command's report. Its folder has a space in its
name, to check the quoting.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from reloadd.client import Client
from tests.daemon_process import DaemonProcess
from tests.integration.editors.support import EDITOR_TIMEOUT, EDITORS, editor_environment
from tests.integration.helpers import NOTIFY_TIMEOUT, edit


@pytest.fixture
def saved(project: Path) -> Path:
    """The file the editor saved, in a folder whose name has a space."""
    path = project / "my app" / "views.py"
    path.parent.mkdir()
    path.write_text("def index():\n    return 'hello'\n")
    return path


@pytest.fixture
def server(daemon: DaemonProcess, saved: Path, tmp_path: Path) -> Iterator[Client]:
    """A dev server that registered ``saved``, which was then changed unseen by the watcher."""
    with Client(daemon.root, name="web", spawn=False) as client:
        client.watch(files=[saved])
        hidden = tmp_path / "outside" / "views-link.py"
        hidden.parent.mkdir()
        os.link(saved, hidden)
        edit(hidden, "def index():\n    return 'edited'\n")
        yield client


def run(argv: list[str], cwd: Path, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """Run a command as the editor would: in ``cwd``, with ``reloadd`` on PATH."""
    return subprocess.run(
        argv,
        cwd=cwd,
        env=editor_environment(tmp_path / "home"),
        capture_output=True,
        text=True,
        timeout=EDITOR_TIMEOUT,
        check=False,
    )


def vscode(text: str, file: Path) -> str:
    """``text`` with VS Code's variables for ``file`` filled in."""
    return text.replace("${fileDirname}", str(file.parent)).replace("${file}", str(file))


def test_the_vscode_run_on_save_command_tells_the_dev_server(
    saved: Path, server: Client, tmp_path: Path
) -> None:
    settings = json.loads((EDITORS / "vscode" / "settings.json").read_text())
    (command,) = settings["emeraldwalk.runonsave"]["commands"]
    # Run on Save runs "cmd" through the shell, in the workspace folder.
    done = run(["/bin/sh", "-c", vscode(command["cmd"], saved)], tmp_path, tmp_path)
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")
    assert server.wait(timeout=NOTIFY_TIMEOUT) == [saved]


def test_the_vscode_task_tells_the_dev_server(saved: Path, server: Client, tmp_path: Path) -> None:
    (task,) = json.loads((EDITORS / "vscode" / "tasks.json").read_text())["tasks"]
    assert task["type"] == "process"  # run as it is, without a shell
    argv = [task["command"], *(vscode(arg, saved) for arg in task["args"])]
    done = run(argv, Path(vscode(task["options"]["cwd"], saved)), tmp_path)
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout == "reloadd: told 1 dev server of 1 saved file\n"
    assert server.wait(timeout=NOTIFY_TIMEOUT) == [saved]


def test_the_emacs_hook_command_tells_the_dev_server(
    saved: Path, server: Client, tmp_path: Path
) -> None:
    elisp = (EDITORS / "emacs" / "reloadd.el").read_text()
    call = re.search(
        r'\(start-process "reloadd-changed" nil((?: "[^"]*")+) buffer-file-name\)', elisp
    )
    assert call is not None, "the hook's start-process call"
    argv = [*re.findall(r'"([^"]*)"', call[1]), str(saved)]
    # default-directory, where Emacs starts the process, is bound to the file's folder.
    assert "(default-directory (file-name-directory buffer-file-name))" in elisp
    done = run(argv, saved.parent, tmp_path)
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")
    assert server.wait(timeout=NOTIFY_TIMEOUT) == [saved]
