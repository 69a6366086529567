"""The werkzeug server process's crash report: a real Python process run with the startup hook."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from reloadd.client.werkzeug_crash import CrashReports
from reloadd.protocol import Crash


def run_with_hook(reports: CrashReports, project: Path, *argv: str, **env: str) -> int:
    """Run ``python argv`` in ``project`` with the hook, as werkzeug's first process does."""
    environment = reports.environment({**os.environ, **env})
    return subprocess.run(
        [sys.executable, *argv], cwd=project, env=environment, capture_output=True, timeout=60
    ).returncode


def test_an_uncaught_exception_is_reported_at_the_projects_line(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / "pyproject.toml").write_text("")
    (project / "helper.py").write_text("def fail():\n    raise ValueError('no good')\n")
    (project / "app.py").write_text("import helper\n\nhelper.fail()\n")
    reports = CrashReports()
    try:
        assert run_with_hook(reports, project, "app.py") == 1
        assert reports.crash(1) == Crash("ValueError", "no good", str(project / "helper.py"), 2)
        # Each new server process starts without the previous one's report.
        assert run_with_hook(reports, project, "-c", "raise SystemExit(4)") == 4
        assert reports.crash(4) == Crash("exit", "the server process exited with status 4")
    finally:
        reports.close()
    assert not Path(reports.folder).exists()


def test_the_sitecustomize_it_shadows_still_runs(tmp_path: Path) -> None:
    own = tmp_path / "own"
    own.mkdir()
    (own / "sitecustomize.py").write_text("import os\nos.environ['SEEN'] = 'yes'\n")
    script = "import os, sys; sys.exit(0 if os.environ.get('SEEN') == 'yes' else 5)"
    reports = CrashReports()
    try:
        assert run_with_hook(reports, tmp_path, "-c", script, PYTHONPATH=str(own)) == 0
    finally:
        reports.close()


def test_the_hook_is_silent_and_no_file_of_the_app(tmp_path: Path) -> None:
    script = (
        "import sys; from reloadd.client.modules import module_files; "
        "print([f for f in module_files() if 'reloadd-werkzeug-' in f])"
    )
    reports = CrashReports()
    try:
        environment = reports.environment(dict(os.environ))
        done = subprocess.run(
            [sys.executable, "-c", script],
            cwd=tmp_path,
            env=environment,
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        reports.close()
    assert (done.returncode, done.stdout, done.stderr) == (0, "[]\n", "")


def test_a_process_the_server_starts_does_not_write_the_servers_report(tmp_path: Path) -> None:
    script = "import os, subprocess, sys; sys.exit(subprocess.call([sys.executable, '-c', '1/0']))"
    reports = CrashReports()
    try:
        assert run_with_hook(reports, tmp_path, "-c", script) == 1
        assert reports.crash(1) == Crash("exit", "the server process exited with status 1")
    finally:
        reports.close()
