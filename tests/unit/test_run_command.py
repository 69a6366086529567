"""The command checked before ``reloadd run`` starts anything, and its exit status as a shell's."""

from __future__ import annotations

import signal
from pathlib import Path

from reloadd.client.run.command import check_command, how_it_ended, shell_status


def test_a_program_on_path_can_run(tmp_path: Path) -> None:
    assert check_command(["sh", "-c", "true"], cwd=tmp_path) is None


def test_a_program_not_on_path_is_127(tmp_path: Path) -> None:
    problem = check_command(["no-such-program-here"], cwd=tmp_path, env={"PATH": str(tmp_path)})
    assert problem is not None
    assert problem.status == 127
    assert "command not found" in problem.reason


def test_a_relative_path_is_looked_up_in_the_working_folder(tmp_path: Path) -> None:
    script = tmp_path / "serve"
    script.write_text("#!/bin/sh\n")
    missing = check_command(["./missing"], cwd=tmp_path)
    assert missing is not None
    assert missing.status == 127
    not_executable = check_command(["./serve"], cwd=tmp_path)
    assert not_executable is not None
    assert not_executable.status == 126
    script.chmod(0o755)
    assert check_command(["./serve"], cwd=tmp_path) is None


def test_a_signal_is_128_plus_its_number_and_named() -> None:
    assert shell_status(0) == 0
    assert shell_status(7) == 7
    assert shell_status(-signal.SIGKILL) == 128 + signal.SIGKILL
    assert how_it_ended(-signal.SIGKILL) == "was killed by SIGKILL"
    assert how_it_ended(1) == "exited with code 1"
