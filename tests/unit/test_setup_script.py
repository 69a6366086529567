"""``scripts/setup.sh``'s output: progress lines and the result, the tools' output only on failure.

The script runs for real, in a temporary copy of the checkout's set-up files,
with a stand-in ``.venv/bin/python`` (pip's noise, then the status the test
asks for) and ``watchman`` on ``PATH``, so no package is installed.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

PIP_NOISE = (
    "WARNING: Location 'file:///somewhere/simple/flask/' is ignored\n"
    "  editable_wheel.py:354: BuildBackendWarning: Editable installation.\n"
)

FAKE_PYTHON = f"""#!/bin/sh
echo "$*" >> "$FAKE_LOG"
case "$*" in
    *"pip install"*) printf '%s' "{PIP_NOISE}" >&2; exit "${{FAKE_PIP_STATUS:-0}}" ;;
    *version*) echo 0.1.0 ;;
esac
exit 0
"""


def executable(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    """The set-up files of a checkout whose .venv exists, with a stand-in Python."""
    copy = tmp_path / "checkout"
    (copy / "scripts").mkdir(parents=True)
    for script in ("setup.sh", "quiet.sh"):
        shutil.copy(ROOT / "scripts" / script, copy / "scripts" / script)
    shutil.copy(ROOT / "pyproject.toml", copy / "pyproject.toml")
    executable(copy / ".venv" / "bin" / "python", FAKE_PYTHON)
    (copy / ".venv" / "pyvenv.cfg").write_text("version = 3.11\n")
    executable(tmp_path / "bin" / "watchman", "#!/bin/sh\necho 2024.01.01\n")
    return copy


def setup(checkout: Path, pip_status: int = 0) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env["PATH"] = f"{checkout.parent / 'bin'}{os.pathsep}{env['PATH']}"
    env["FAKE_LOG"] = str(checkout / "calls.log")
    env["FAKE_PIP_STATUS"] = str(pip_status)
    return subprocess.run(
        ["bash", "scripts/setup.sh"],
        cwd=checkout,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_a_successful_set_up_prints_progress_and_the_result_only(checkout: Path) -> None:
    result = setup(checkout)
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert all(line.startswith("setup: ") for line in lines), result.stderr
    assert "Warning" not in result.stderr
    assert lines[-1] == "setup: ready: .venv with reloadd 0.1.0, Watchman 2024.01.01"


def test_a_second_run_installs_nothing(checkout: Path) -> None:
    assert setup(checkout).returncode == 0
    (checkout / "calls.log").unlink()
    result = setup(checkout)
    assert result.returncode == 0, result.stderr
    assert "pip install" not in (checkout / "calls.log").read_text()
    assert "up to date" in result.stderr


def test_a_failed_install_shows_pips_output_and_fails(checkout: Path) -> None:
    result = setup(checkout, pip_status=1)
    assert result.returncode == 1
    assert "setup: upgrading pip failed (exit status 1); its output:" in result.stderr
    assert "BuildBackendWarning" in result.stderr, "on failure, pip's own output is shown"
    assert "ready" not in result.stderr
