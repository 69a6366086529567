"""The systemd user service for real: ``reloadd service`` under a real ``systemd --user``.

The whole scenario runs in one child under ``unshare -m`` (see
:mod:`tests.integration.systemd_scenario`), which needs root; it reports what it
observed, and this test asserts on it. Nothing is left running: the child stops the
manager by its PID and kills (and reports) any daemon of the project still alive.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def scenario(project: Path, tmp_path: Path) -> dict[str, Any]:
    """Run the scenario; what it observed."""
    if os.geteuid() != 0:
        pytest.fail("this test runs systemd --user in a private mount namespace, which needs root")
    work = tmp_path / "work"
    work.mkdir()
    result = tmp_path / "result.json"
    run = subprocess.run(
        [
            "unshare",
            "-m",
            sys.executable,
            "-m",
            "tests.integration.systemd_scenario",
            str(project),
            str(work),
            str(result),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=110,
    )
    assert run.returncode == 0, run.stderr
    seen: dict[str, Any] = json.loads(result.read_text())
    if "error" in seen:
        pytest.fail(
            f"{seen['error']}\nsteps: {seen['steps']}\n{run.stderr[-3000:]}\n"
            f"manager log:\n{seen['manager_log'][-4000:]}"
        )
    return seen


def test_the_service_under_a_real_user_manager(scenario: dict[str, Any], project: Path) -> None:
    seen = scenario
    app = str(project / "app.py")
    assert seen["install"][0] == 0, seen["install"]
    assert seen["verify"] == [0, ""]
    assert f'serve --root "%f"' in seen["unit_file"]
    assert f'"{sys.executable}" "-m" "reloadd.client.cli"' in seen["unit_file"], "this reloadd"
    installed = seen["after_install"]
    assert installed["ActiveState"] == "active"
    assert installed["UnitFileState"] == "enabled"
    assert installed["Type"] == "notify"
    assert installed["WatchdogUSec"] == "10s"
    assert installed["StatusText"].startswith("0 dev servers, 0 files; ")
    assert "watchdog  10s" in seen["service_status"]
    assert f"root      {project}" in seen["service_status"], "the daemon's own status"

    assert seen["told_first"] == [app]

    after_kill = seen["after_kill"]
    assert seen["told_after_kill"] == [app]
    assert after_kill["serving_pid"] == after_kill["main_pid"], "the unit's daemon serves"
    assert after_kill["daemons"] == [after_kill["main_pid"]], "no second daemon beside it"
    assert after_kill["restarts"] == "1"

    after_stop = seen["after_stop"]
    assert after_stop["frozen_gone"]
    assert after_stop["daemons"] == [after_stop["main_pid"]]
    assert after_stop["restarts"] == "2"
    assert "Watchdog timeout" in seen["manager_log"]
    assert seen["told_after_watchdog"] == [app]

    assert seen["uninstall"][0] == 0, seen["uninstall"]
    gone = seen["after_uninstall"]
    assert (gone["LoadState"], gone["ActiveState"]) == ("not-found", "inactive")
    assert gone["files"] == [] and gone["daemons"] == []
    assert seen["left_behind"] == []
    assert seen["manager_exit"] == 0
