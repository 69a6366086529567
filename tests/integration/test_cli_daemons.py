"""``reloadd list``, ``stop [--all]``, ``start`` failures and ``--idle-exit``, with real daemons."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import pytest

from reloadd.client import Client, daemons
from reloadd.client.cli import main
from reloadd.client.daemons import process_alive
from reloadd.protocol.endpoint import endpoint_for
from tests.daemon_process import DaemonProcess
from tests.integration.odd_daemons import odd_daemon, wait_until_gone


@pytest.fixture
def backend_name() -> str:
    """These tests are about daemons' lives, not the watcher: the built-in one suffices."""
    return "builtin"


@pytest.fixture(autouse=True)
def private_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private temporary folder: ``list`` and ``stop --all`` must never see the user's
    (or another test run's) daemons in ``/tmp/reloadd-<uid>``."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setenv("TMPDIR", str(folder))
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


def another_project(tmp_path: Path, name: str) -> Path:
    """A second project folder."""
    root = tmp_path / name
    root.mkdir()
    (root / "pyproject.toml").write_text("[project]\nname = 'other'\n")
    return root.resolve()


# -- stop ------------------------------------------------------------------------------------


def test_stop_returns_once_the_daemon_process_has_exited(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 12 item 12: not merely once its socket is gone."""
    for _ in range(3):  # the gap between the socket going and the process exiting is short
        assert main(["start", "--root", str(project)]) == 0
        with Client(project, spawn=False) as client:
            pid = client.daemon.pid
        assert main(["stop", "--root", str(project)]) == 0
        assert not process_alive(pid), "reloadd stop returned while the daemon still ran"
        assert f"stopped the daemon for {project} (pid {pid})" in capsys.readouterr().out


def test_stop_says_so_when_the_daemon_does_not_exit(
    project: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(daemons, "STOP_TIMEOUT", 0.5)
    with odd_daemon("lingering", endpoint_for(project)) as lingering:
        assert main(["stop", "--root", str(project)]) == 1
        err = capsys.readouterr().err
        assert err.count("\n") == 1
        assert f"(pid {lingering.pid}) said it stops but still runs" in err
        assert f"kill {lingering.pid}" in err


def test_stop_without_a_daemon_is_success(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 14 item 5."""
    assert main(["stop", "--root", str(project)]) == 0
    captured = capsys.readouterr()
    assert captured.out == f"reloadd: no daemon runs for {project}; nothing to stop\n"
    assert captured.err == ""


def test_stop_after_the_daemon_died_removes_its_socket(
    daemon: DaemonProcess, project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    daemon.kill()
    assert main(["stop", "--root", str(project)]) == 0
    assert capsys.readouterr().out == (
        f"reloadd: no daemon runs for {project}; removed the socket "
        f"{daemon.endpoint.socket_path} left by one that died\n"
    )
    assert not daemon.endpoint.socket_path.exists()


def test_stop_of_a_daemon_that_does_not_answer_names_its_pid(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with odd_daemon("silent", endpoint_for(project)) as silent:
        assert main(["stop", "--root", str(project)]) == 1
        err = capsys.readouterr().err
        assert err == (
            f"reloadd: the daemon for {project} (pid {silent.pid}) does not answer; "
            f"stop it with 'kill {silent.pid}'\n"
        )
        assert process_alive(silent.pid)


# -- list and stop --all ---------------------------------------------------------------------


def test_list_shows_every_daemon_of_this_user_and_removes_stale_sockets(
    project: Path,
    tmp_path: Path,
    private_tmp: Path,
    daemon_factory: list[DaemonProcess],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    busy = DaemonProcess(project, backend="builtin", log_path=tmp_path / "busy.log")
    daemon_factory.append(busy)
    busy.start()
    idle_root = another_project(tmp_path, "idle")
    # This one runs without XDG_RUNTIME_DIR, so it lives in <tmp>/reloadd-<uid>.
    xdg_runtime_dir = os.environ["XDG_RUNTIME_DIR"]
    monkeypatch.delenv("XDG_RUNTIME_DIR")
    idle = DaemonProcess(idle_root, backend="builtin", log_path=tmp_path / "idle.log")
    daemon_factory.append(idle)
    idle.start()
    assert idle.endpoint.socket_path.parent == private_tmp / f"reloadd-{os.getuid()}"
    monkeypatch.setenv("XDG_RUNTIME_DIR", xdg_runtime_dir)
    dead = DaemonProcess(
        another_project(tmp_path, "dead"), backend="builtin", log_path=tmp_path / "dead.log"
    )
    daemon_factory.append(dead)
    dead.start()
    dead.kill()  # leaves its socket behind
    assert dead.endpoint.socket_path.exists()

    with Client(project, name="web", spawn=False):
        assert main(["list", "--json"]) == 0
        listed = json.loads(capsys.readouterr().out)
        assert main(["list"]) == 0
        table = capsys.readouterr().out
    running = {item["root"]: item for item in listed if item["state"] == "running"}
    assert running.keys() == {str(project), str(idle_root)}
    assert running[str(project)]["pid"] == busy.pid
    assert running[str(project)]["clients"] == 1
    assert running[str(project)]["idle_since"] is None
    assert running[str(idle_root)]["pid"] == idle.pid
    assert running[str(idle_root)]["clients"] == 0
    assert running[str(idle_root)]["idle_since"] > 0
    stale = [item for item in listed if item["state"] == "stale"]
    assert stale == [
        {"socket": str(dead.endpoint.socket_path), "state": "stale", "pid": None, "removed": True}
    ]
    assert not dead.endpoint.socket_path.exists()

    header, *rows = table.splitlines()
    assert header.split() == ["ROOT", "PID", "BACKEND", "CLIENTS", "IDLE", "FOR", "UP"]
    busy_row = next(row for row in rows if row.startswith(f"{project} "))
    idle_row = next(row for row in rows if row.startswith(f"{idle_root} "))
    assert busy_row.split()[1:5] == [str(busy.pid), "builtin", "1", "-"]
    assert idle_row.split()[1:4] == [str(idle.pid), "builtin", "0"]
    assert idle_row.split()[4].endswith("s")

    monkeypatch.delenv("XDG_RUNTIME_DIR")  # to reach the idle one, in <tmp>/reloadd-<uid>
    assert main(["status", "--root", str(idle_root)]) == 0
    assert ", idle for " in capsys.readouterr().out.splitlines()[2]


def test_list_leaves_a_daemon_that_does_not_answer_alone(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    endpoint = endpoint_for(project)
    with odd_daemon("silent", endpoint) as silent:
        assert main(["list"]) == 0
        out = capsys.readouterr().out
        assert f"not answering: {endpoint.socket_path} (pid {silent.pid} holds its lock" in out
        assert endpoint.socket_path.exists(), "the socket of a live daemon was removed"


def test_list_without_daemons(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["list"]) == 0
    assert capsys.readouterr().out == "no daemon of yours runs\n"


def test_stop_all_stops_every_daemon_and_waits_for_them(
    project: Path,
    tmp_path: Path,
    daemon_factory: list[DaemonProcess],
    capsys: pytest.CaptureFixture[str],
) -> None:
    started = []
    for root in (project, another_project(tmp_path, "second")):
        started.append(
            DaemonProcess(root, backend="builtin", log_path=tmp_path / f"{root.name}.log")
        )
        daemon_factory.append(started[-1])
        started[-1].start()
    assert main(["stop", "--all"]) == 0
    out = capsys.readouterr().out
    for daemon in started:
        assert f"stopped the daemon for {daemon.root} (pid {daemon.pid})" in out
        assert daemon.process is not None
        assert daemon.process.poll() == 0, "reloadd stop --all returned before it exited"
    assert main(["list"]) == 0
    assert capsys.readouterr().out == "no daemon of yours runs\n"
    assert main(["stop", "--all"]) == 0
    assert capsys.readouterr().out == "reloadd: no daemon of yours runs; nothing to stop\n"


# -- start -----------------------------------------------------------------------------------


def test_a_failed_start_prints_only_its_own_reason(
    project: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 14 item 12: the log is appended to; an older start's lines are not this one's."""
    endpoint = endpoint_for(project)
    errors = []
    for name in ("bogus1", "bogus2"):
        monkeypatch.setenv("RELOADD_BACKEND", name)
        assert main(["start", "--root", str(project)]) == 1
        captured = capsys.readouterr()
        assert captured.out == ""
        errors.append(captured.err)
    assert "bogus1" not in errors[1], "the second start printed the first one's log lines"
    for name, err in zip(("bogus1", "bogus2"), errors, strict=True):
        assert err == (
            f"reloadd: the daemon for {project} did not start: unknown watch backend "
            f"{name!r} (from RELOADD_BACKEND); use one of: auto, watchman, builtin "
            f"(its log: {endpoint.log_path})\n"
        )
    assert "bogus1" in endpoint.log_path.read_text(), "the log itself keeps every start"


def test_start_with_an_unusable_watchman_socket_fails_in_one_line(
    project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 14 item 13, the command line's side (the daemon's side is the backend choice)."""
    sock = tmp_path / "nonexistent" / "sock"
    status = main(
        ["start", "--root", str(project), "--backend", "auto", "--watchman-sock", str(sock)]
    )
    err = capsys.readouterr().err
    assert status == 1, "the daemon fell back to the built-in watcher"
    assert len(err.splitlines()) == 1
    assert err.startswith(f"reloadd: the daemon for {project} did not start: ")
    assert str(sock) in err


def test_start_says_when_the_daemon_stops_by_itself(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["start", "--root", str(project)]) == 0
    assert capsys.readouterr().out.rstrip().endswith("it stops after 30m with no dev server")
    assert main(["stop", "--root", str(project)]) == 0
    assert main(["start", "--root", str(project), "--idle-exit", "0"]) == 0
    assert capsys.readouterr().out.rstrip().endswith("it runs until 'reloadd stop'")
    assert main(["stop", "--root", str(project)]) == 0


def test_a_daemon_started_with_idle_exit_stops_by_itself(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 14 item 1 (needs the daemon's idle exit): with no dev server it goes away."""
    assert main(["start", "--root", str(project), "--idle-exit", "2s"]) == 0
    capsys.readouterr()
    with Client(project, name="web", spawn=False) as client:
        pid = client.daemon.pid
    assert wait_until_gone(pid, timeout=60), "the daemon did not exit when idle"
    assert not endpoint_for(project).socket_path.exists()


def test_a_daemon_a_client_starts_is_not_the_clients_systemd_service(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """So it takes the background default (it exits when idle) and notifies no one."""
    monkeypatch.setenv("INVOCATION_ID", "0123456789abcdef")
    with Client(project, name="web") as client:
        environ = Path(f"/proc/{client.daemon.pid}/environ").read_bytes().split(b"\0")
    assert not [item for item in environ if item.startswith(b"INVOCATION_ID=")]
