"""``reloadd serve`` exits 1 when the daemon itself cannot run; 2 is for command-line mistakes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

CLI_TIMEOUT = 30.0
"""Seconds a ``reloadd`` process may take (a Python start on a busy machine)."""


def serve(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run ``reloadd serve`` in the foreground, as a user would."""
    return subprocess.run(
        [str(Path(sys.executable).parent / "reloadd"), "serve", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT,
        check=False,
    )


def test_a_daemon_that_cannot_start_its_backend_exits_1_in_one_line(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    silent = tmp_path / "no-watchman.sock"  # named, but nothing answers there

    done = serve(
        "--root", str(project), "--backend", "watchman", "--watchman-sock", str(silent), cwd=project
    )

    assert done.returncode == 1, done.stderr
    reasons = [line for line in done.stderr.splitlines() if line.startswith("reloadd: ")]
    assert len(reasons) == 1, done.stderr
    assert "Traceback" not in done.stderr


def test_a_mistake_on_the_command_line_still_exits_2(tmp_path: Path) -> None:
    done = serve("--backend", "nonsense", cwd=tmp_path)

    assert done.returncode == 2
    assert "usage: reloadd serve" in done.stderr
