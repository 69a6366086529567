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

from reloadd.client.service_unit import escape_path

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def project_and_scenario(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    """Run the scenario once for this module's tests; the project, and what was observed."""
    if os.geteuid() != 0:
        pytest.fail("this test runs systemd --user in a private mount namespace, which needs root")
    base = tmp_path_factory.mktemp("sd", numbered=True)
    project = base / "project"
    project.mkdir()
    (project / "pyproject.toml").write_text("[project]\nname = 'demo'\n")
    work = base / "work"
    work.mkdir()
    (base / "tmp").mkdir(mode=0o700)
    # As the autouse fixture does for each test (this one is module-wide): nothing of the
    # developer's leaks in, and the daemon never reaches the user's own Watchman.
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("RELOADD_", "XDG_", "WATCHMAN_", "NOTIFY_", "DBUS_"))
    }
    env.update(
        RELOADD_BACKEND="builtin", XDG_STATE_HOME=str(base / "state"), TMPDIR=str(base / "tmp")
    )
    result = base / "result.json"
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
        env=env,
        capture_output=True,
        text=True,
        timeout=110,
    )
    assert run.returncode == 0, run.stderr
    seen: dict[str, Any] = json.loads(result.read_text())
    if "error" in seen:
        pytest.fail(
            f"{seen['error']}\nsteps: {seen['steps']}\n{run.stderr[-3000:]}\n"
            f"journal:\n{seen['manager_log'][-4000:]}"
        )
    return project.resolve(), seen


@pytest.fixture
def scenario(project_and_scenario: tuple[Path, dict[str, Any]]) -> dict[str, Any]:
    """What the scenario observed."""
    return project_and_scenario[1]


@pytest.fixture
def project(project_and_scenario: tuple[Path, dict[str, Any]]) -> Path:
    """The scenario's project folder."""
    return project_and_scenario[0]


def test_the_service_under_a_real_user_manager(scenario: dict[str, Any], project: Path) -> None:
    seen = scenario
    app = str(project / "app.py")
    assert seen["install"][0] == 0, seen["install"]
    assert seen["verify"] == [0, ""]
    assert 'serve --root "%f"' in seen["unit_file"]
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
    # The watchdog's SIGABRT: Python's fault handler printed where each thread was.
    assert "Fatal Python error: Aborted" in seen["journal_lines"]
    assert seen["told_after_watchdog"] == [app]

    code, out, err = seen["stopped_unit_client"]
    assert code == 0, err
    unit = f"reloadd@{escape_path(project)}.service"
    assert f"the systemd service {unit} is installed but inactive" in err
    assert seen["stopped_unit_daemons"] == [int(out)], "a daemon of its own, outside the unit"
    code, out, err = seen["install_again"]
    assert code == 0, err
    assert (
        f"stopped the daemon started outside systemd (pid {int(seen['stopped_unit_client'][1])})"
        in out
    )
    again = seen["after_install_again"]
    assert again["daemons"] == [again["main_pid"]] == [again["serving_pid"]]

    assert seen["uninstall"][0] == 0, seen["uninstall"]
    assert f"stopped and disabled {unit}" in seen["uninstall"][1]
    gone = seen["after_uninstall"]
    assert (gone["LoadState"], gone["ActiveState"]) == ("not-found", "inactive")
    assert gone["files"] == []
    assert gone["daemons"] == []
    assert f"{unit} is not installed" in gone["status"]
    assert seen["left_behind"] == []
    assert seen["manager_exit"] == 0


def test_the_daemon_logs_to_the_journal_with_fields(
    scenario: dict[str, Any], project: Path
) -> None:
    """With the reloadd[systemd] extra, records carry their priority, code location and ours."""
    records = [r for r in scenario["journal"] if r.get("SYSLOG_IDENTIFIER") == "reloadd"]
    connected = [r for r in records if r["MESSAGE"].startswith("scenario dev server (pid ")]
    assert connected, records
    told = next(r for r in connected if "1 changed" in r["MESSAGE"])
    assert told["RELOADD_PATH"] == str(project / "app.py")
    assert told["RELOADD_CLIENT"] == told["MESSAGE"].split(":")[0]
    assert told["PRIORITY"] == "6"
    assert told["CODE_FILE"].endswith("notifier.py")
    assert told["LOGGER"] == "reloadd.daemon"
    assert all(name.isupper() for r in records for name in r), "only journal field names"


def test_socket_activation_starts_the_daemon_at_the_first_connection(
    scenario: dict[str, Any], project: Path
) -> None:
    seen = scenario["socket_activation"]
    assert seen["install"][0] == 0, seen["install"]
    assert "listening now: the daemon starts at the first connection" in seen["install"][1]
    assert seen["verify"] == [0, ""]
    before = seen["before"]
    assert before["socket"] == {"ActiveState": "active", "SubState": "listening"}
    assert before["service"]["ActiveState"] == "inactive", "no daemon until a client connects"
    assert before["daemons"] == []
    assert before["socket_mode"] == "0o600"

    app = project.parent / "socket-project" / "app.py"
    assert seen["told"] == [str(app)]
    after = seen["after"]
    assert after["service"]["ActiveState"] == "active"
    assert after["daemons"] == [after["serving_pid"]] == [int(after["service"]["MainPID"])]
    started = [
        r for r in scenario["journal"] if "on the socket systemd passed" in r.get("MESSAGE", "")
    ]
    assert started, "the daemon adopted the socket"

    assert seen["uninstall"][0] == 0, seen["uninstall"]
    gone = seen["after_uninstall"]
    assert gone["socket_file"] is False
    assert gone["socket"] == {"LoadState": "not-found", "ActiveState": "inactive"}
    assert gone["daemons"] == []
