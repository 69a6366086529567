"""Every command-line failure is one line on stderr and exit status 1, never a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from reloadd.client import Client
from reloadd.client.cli import main
from reloadd.protocol.endpoint import endpoint_for
from tests.daemon_process import DaemonProcess
from tests.integration.helpers import expect_changes
from tests.integration.odd_daemons import odd_daemon

CLI_TIMEOUT = 30.0
"""Seconds a ``reloadd`` process may take (a Python start on a busy machine)."""


@pytest.fixture
def backend_name() -> str:
    """The watcher does not matter here: the built-in one suffices."""
    return "builtin"


def reloadd(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run the ``reloadd`` console script."""
    return subprocess.run(
        [str(Path(sys.executable).parent / "reloadd"), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT,
        check=False,
    )


@pytest.fixture
def non_utf8_project(tmp_path: Path) -> Path:
    """A project folder whose name is not valid UTF-8."""
    root = Path(os.fsdecode(os.fsencode(tmp_path) + b"/caf\xe9"))
    root.mkdir()
    (root / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    return root


@pytest.mark.parametrize(
    "argv",
    [
        ["status"],
        ["stop"],
        ["start"],
        ["serve"],
        ["changed", "pyproject.toml"],
        ["run", "--", "true"],
    ],
)
def test_a_root_that_is_not_utf8_fails_in_one_line(argv: list[str], non_utf8_project: Path) -> None:
    result = reloadd(*argv, cwd=non_utf8_project)
    assert result.returncode == 1, result.stderr
    assert len(result.stderr.splitlines()) == 1, result.stderr
    assert result.stderr.startswith("reloadd: the project root ")
    assert "is not valid UTF-8" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_daemon_that_does_not_answer_fails_in_one_line(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with odd_daemon("silent", endpoint_for(project)):
        for argv in (["status"], ["changed", "pyproject.toml"]):
            assert main([*argv, "--root", str(project)]) == 1
            err = capsys.readouterr().err
            assert len(err.splitlines()) == 1, err
            assert err.startswith("reloadd: ")


def test_changed_names_paths_outside_the_project_or_missing(
    daemon: DaemonProcess, project: Path, tmp_path: Path
) -> None:
    """Issue 14 item 7: and still reports the good ones."""
    app = project / "app.py"
    app.write_text("x = 1\n")
    outside = tmp_path / "outside.py"
    outside.write_text("y = 1\n")
    with Client(project, name="web", spawn=False) as server:
        server.watch(files=[app])
        result = reloadd("changed", "app.py", "nonexist.py", str(outside), cwd=project)
        assert result.returncode == 1
        assert result.stderr.splitlines() == [
            "reloadd: nonexist.py: no such file; told no dev server",
            f"reloadd: {outside}: not in the project {project} (pass --root if it is another "
            "project's); told no dev server",
        ]
        assert result.stdout.startswith("reloadd: told ")  # 1, or none if the watcher was first
        assert "of 1 saved file" in result.stdout or "had already reported" in result.stdout

        quiet = reloadd("changed", "-q", "/etc/hosts", cwd=project)
        assert (quiet.returncode, quiet.stdout) == (1, "")
        assert quiet.stderr == (
            f"reloadd: /etc/hosts: not in the project {project} (pass --root if it is another "
            "project's); told no dev server\n"
        )


def test_changed_outside_the_project_is_fine_when_a_dev_server_registered_it(
    daemon: DaemonProcess, project: Path, tmp_path: Path
) -> None:
    """A library file a dev server imported is not a mistake to report."""
    library = tmp_path / "lib" / "site-packages" / "lib.py"
    library.parent.mkdir(parents=True)
    library.write_text("z = 1\n")
    hidden = tmp_path / "elsewhere" / "lib-link.py"
    hidden.parent.mkdir()
    os.link(library, hidden)
    with Client(project, name="web", spawn=False) as server:
        server.watch(files=[library])
        hidden.write_text("z = 2\n")  # through a hard link: no watcher sees it, the report tells
        result = reloadd("changed", str(library), cwd=project)
        assert (result.returncode, result.stderr) == (0, "")
        assert result.stdout == "reloadd: told 1 dev server of 1 saved file\n"
        expect_changes(server, library)


@pytest.mark.parametrize("argv", [["start"], ["status"], ["changed", "pyproject.toml"]])
def test_an_unusable_runtime_folder_fails_in_one_line(
    argv: list[str], project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    not_a_folder = tmp_path / "not-a-folder"
    not_a_folder.write_text("")
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(not_a_folder))
    result = reloadd(*argv, cwd=project)
    assert result.returncode == 1
    assert len(result.stderr.splitlines()) == 1, result.stderr
    assert result.stderr.startswith("reloadd: ")
