"""No change lost: restarts of dev servers, of the daemon and of Watchman; bursts; fallback."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from reloadd.client import Client
from reloadd.client.requests import RESTART_MARGIN
from reloadd.daemon.saved_state import load as load_state
from reloadd.daemon.saved_state import state_dir
from reloadd.protocol import Role
from reloadd.protocol.endpoint import endpoint_for
from tests.daemon_process import DaemonProcess
from tests.integration.helpers import (
    NOTIFY_TIMEOUT,
    QUIET_PERIOD,
    edit,
    expect_changes,
    expect_quiet,
    files_written_meanwhile,
    wait_until_older,
    written_names,
)

RECOVERY_TIMEOUT = 30.0
"""Heartbeats take up to a few seconds to notice a dead daemon; a new one then starts."""

CHILD = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from reloadd.client import Client, process_start_time
    started = process_start_time()
    project, watched, go, patience = sys.argv[1], sys.argv[2], Path(sys.argv[3]), float(sys.argv[4])
    print("started", flush=True)
    deadline = time.monotonic() + 30
    while not go.exists() and time.monotonic() < deadline:   # "importing modules"
        time.sleep(0.01)
    with Client(project, name="child", spawn=False) as client:
        client.watch(files=[watched], since=started)
        print("changed:" + ",".join(map(str, client.wait(timeout=patience))), flush=True)
        print("then:" + ",".join(map(str, client.wait(timeout=1))), flush=True)
    """
)


def run_child_that_registers_late(
    project: Path, watched: Path, before_registering: object, patience: float = NOTIFY_TIMEOUT
) -> list[str]:
    """Start a client process; edit while it 'imports'; return what it was told after registering."""
    go = project / "go.flag"
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(project), str(watched), str(go), str(patience)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "started"
        assert callable(before_registering)
        before_registering()
        go.write_text("go")
        out, err = child.communicate(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert child.returncode == 0, err
    return out.splitlines()


def test_edit_between_process_start_and_registration_is_reported(
    daemon: DaemonProcess, project: Path
) -> None:
    app = project / "app.py"
    app.write_text("x = 1\n")
    lines = run_child_that_registers_late(project, app, lambda: edit(app))
    assert lines == [f"changed:{app}", "then:"]


def test_edit_while_restarting_under_an_already_watched_root_is_reported(
    daemon: DaemonProcess, project: Path
) -> None:
    app, other = project / "app.py", project / "other.py"
    app.write_text("x = 1\n")
    other.write_text("y = 1\n")
    with Client(project, name="sibling", spawn=False) as sibling:
        sibling.watch(files=[other])  # the root is now watched, so the change log answers
        lines = run_child_that_registers_late(project, app, lambda: edit(app))
    assert lines == [f"changed:{app}", "then:"]


def test_changes_while_another_client_adds_roots_are_all_reported(
    daemon: DaemonProcess, project: Path, tmp_path: Path
) -> None:
    # On the built-in backend, each new root replaces the watcher of every root: files
    # written under the project meanwhile must not fall into a gap.
    for i in range(500):  # a set-up that takes a while, for writes to fall into
        (project / "tree" / f"d{i}").mkdir(parents=True)
    folder = project / "pkg"
    folder.mkdir()
    limit = 5_000
    with (
        Client(project, name="web", spawn=False) as web,
        Client(project, name="worker", spawn=False) as worker,
    ):
        web.watch(files=[folder / name for name in written_names(limit)])
        with files_written_meanwhile(folder, limit) as written:
            for i in range(5):
                lib = tmp_path / f"outside{i}" / "lib.py"
                lib.parent.mkdir()
                lib.write_text("x = 1\n")
                worker.watch(files=[lib])  # outside the project: a new root
        assert len(worker.status().watched_roots) == 6
        print(f"{len(written)} files written while 5 roots were added")
        missing = set(written)
        deadline = time.monotonic() + NOTIFY_TIMEOUT
        while missing and (remaining := deadline - time.monotonic()) > 0:
            missing -= set(web.wait(timeout=remaining))
    assert not missing, f"{len(missing)} of {len(written)} never reported: {sorted(missing)[:5]}"


def test_edit_before_process_start_is_not_reported(daemon: DaemonProcess, project: Path) -> None:
    app = project / "app.py"
    app.write_text("x = 1\n")
    wait_until_older(app)  # the edit must lie before the child's start
    lines = run_child_that_registers_late(project, app, lambda: None, patience=QUIET_PERIOD)
    assert lines == ["changed:", "then:"]


def test_restarted_client_gets_its_registration_back(daemon: DaemonProcess, project: Path) -> None:
    app = project / "app.py"
    app.write_text("x = 1\n")
    with Client(project, name="web", spawn=False) as first:
        first.watch(files=[app])
    left_at = time.time()
    edit(app)  # while "web" restarts
    with Client(project, name="web", spawn=False) as second, Client(project, spawn=False) as probe:
        web = [c for c in probe.status().clients if c.name == "web"]
        assert [(c.connected, c.files) for c in web] == [(True, 1)], "adopted, not re-created"
        assert second.daemon.registration, "the digest of the registration it took back"
        reply = second.watch(files=[app], since=left_at)  # sent as "unchanged", not re-listed
        assert (reply.files, reply.globs) == (1, 0)
        expect_changes(second, app)


def test_unchanged_watch_set_costs_no_backend_work(daemon: DaemonProcess, project: Path) -> None:
    files = [project / f"m{i}.py" for i in range(200)]
    for path in files:
        path.write_text("")
    with Client(project, name="web", spawn=False) as client:
        client.watch(files=files)
    restarted_at = time.time()
    log_before = daemon.log().count("now watching")
    with Client(project, name="web", spawn=False) as client:
        client.watch(files=files, since=restarted_at)
        expect_quiet(client)
    assert daemon.log().count("now watching") == log_before


def test_save_by_write_and_rename_is_one_change(daemon: DaemonProcess, project: Path) -> None:
    app = project / "app.py"
    app.write_text("x = 1\n")
    with Client(project, name="web", spawn=False) as client:
        client.watch(files=[app])
        temporary = project / ".app.py.tmp1234"
        temporary.write_text("x = 2\n")
        os.replace(temporary, app)
        expect_changes(client, app)


def test_burst_of_5000_files_is_one_notification_per_client(
    daemon: DaemonProcess, project: Path
) -> None:
    files = [project / "pkg" / f"d{i % 50}" / f"m{i}.py" for i in range(5000)]
    for path in files:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("a = 1\n")
    first_half, second_half = files[:2500], files[2500:]
    with Client(project, name="a", spawn=False) as a, Client(project, name="b", spawn=False) as b:
        a.watch(files=first_half)
        b.watch(globs=[(project / "pkg", "**/*.py")])
        for path in files:  # a formatter rewriting every file
            path.write_text("a = 2\n")
        changed_a = _collect_burst(a)
        changed_b = _collect_burst(b)
    # A burst is reported once its writes pause for 5 ms (the built-in watcher's step); a
    # loaded machine can pause this loop for longer, so the burst may come in a few parts.
    # What must hold: each client is told of every one of its files and of nothing else,
    # in notifications per burst, not per file.
    print(f"5000 writes -> {len(changed_a)} and {len(changed_b)} notification(s)")
    assert {path for batch in changed_a for path in batch} == set(first_half)
    assert {path for batch in changed_b for path in batch} == set(files)
    assert second_half  # b is told of all, a only of its own half
    assert len(changed_a) <= 25
    assert len(changed_b) <= 25


def _collect_burst(client: Client) -> list[list[Path]]:
    batches = [client.wait(timeout=NOTIFY_TIMEOUT)]
    while more := client.wait(timeout=QUIET_PERIOD):
        batches.append(more)
    return batches


def test_git_checkout_is_one_notification(daemon: DaemonProcess, project: Path) -> None:
    files = [project / "app" / f"d{i % 40}" / f"m{i}.py" for i in range(2000)]
    for path in files:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("v = 1\n")
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-C", str(project)]
    subprocess.run([*git, "init", "-q", "-b", "main"], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-qm", "one"], check=True)
    subprocess.run([*git, "checkout", "-qb", "two"], check=True)
    for path in files:
        path.write_text("v = 2\n")
    subprocess.run([*git, "commit", "-qam", "two"], check=True)
    subprocess.run([*git, "checkout", "-q", "main"], check=True)
    with Client(project, name="web", spawn=False) as client:
        client.watch(files=files)
        subprocess.run([*git, "checkout", "-q", "two"], check=True)
        batches = _collect_burst(client)
    assert len(batches) == 1
    assert sorted(batches[0]) == sorted(files)


def wait_for_saved_state(root: Path) -> None:
    """Until the daemon has saved a state that covers ``root`` (with its clock, on Watchman):
    what a successor needs to find the changes made while no daemon ran."""
    path = state_dir() / f"{endpoint_for(root).socket_path.stem}.json"
    real = root.resolve()
    deadline = time.monotonic() + RECOVERY_TIMEOUT
    while True:
        state = load_state(path)
        covering = [item for item in state.roots if real.is_relative_to(item)]
        if covering and (state.backend != "watchman" or set(covering) & set(state.clocks)):
            return
        assert time.monotonic() < deadline, f"the daemon never saved a state covering {root}"
        time.sleep(0.05)


@pytest.fixture
def spawn_like(monkeypatch: pytest.MonkeyPatch, daemon: DaemonProcess) -> DaemonProcess:
    """Daemons that clients start on demand use the same backend (and Watchman) as ``daemon``."""
    monkeypatch.setenv("RELOADD_BACKEND", daemon.backend)
    if daemon.watchman_sock:
        monkeypatch.setenv("WATCHMAN_SOCK", daemon.watchman_sock)
    return daemon


def test_change_while_the_daemon_is_dead_is_reported_once_a_client_brings_one_back(
    spawn_like: DaemonProcess, project: Path
) -> None:
    daemon = spawn_like
    app, other = project / "app.py", project / "other.py"
    app.write_text("x = 1\n")
    other.write_text("y = 1\n")
    wait_until_older(app, other, by=RESTART_MARGIN)  # so not reported as missed edits
    with Client(project, name="web") as client:
        client.watch(files=[app, other])
        old_instance = client.daemon.instance
        wait_for_saved_state(project)
        daemon.kill()
        edit(app)
        changed = client.wait(timeout=RECOVERY_TIMEOUT)
        assert changed == [app]
        assert client.daemon.instance != old_instance
        assert client.daemon.pid != daemon.pid
        expect_quiet(client)
        edit(other)
        expect_changes(client, other)


@pytest.fixture
def frozen(daemon: DaemonProcess) -> Iterator[DaemonProcess]:
    """The daemon, to be SIGSTOPped by the test; always SIGCONTed before it is stopped."""
    yield daemon
    os.kill(daemon.pid, signal.SIGCONT)


def test_unreachable_daemon_falls_back_to_polling_and_back(
    frozen: DaemonProcess, project: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    app = project / "app.py"
    app.write_text("x = 1\n")
    with Client(project, name="web", spawn_timeout=3.0) as client:
        client.watch(files=[app])
        os.kill(frozen.pid, signal.SIGSTOP)
        assert client.wait(timeout=RECOVERY_TIMEOUT / 2) == []
        assert client.backend == "polling"
        assert "cannot reach the daemon" in capfd.readouterr().err
        edit(app)
        assert client.wait(timeout=NOTIFY_TIMEOUT) == [app]
        os.kill(frozen.pid, signal.SIGCONT)
        deadline = time.monotonic() + RECOVERY_TIMEOUT
        while not client.connected and time.monotonic() < deadline:
            assert client.wait(timeout=1) == []
        assert client.connected
        assert "is back" in capfd.readouterr().err
        edit(app)
        expect_changes(client, app)


def test_watchman_restart_reports_only_files_that_changed(
    project: Path,
    tmp_path: Path,
    daemon_factory: list[DaemonProcess],
    request: pytest.FixtureRequest,
) -> None:
    watchman = request.getfixturevalue("private_watchman")
    started = DaemonProcess(
        project,
        backend="watchman",
        log_path=tmp_path / "d.log",
        watchman_sock=str(watchman.sockpath),
    )
    daemon_factory.append(started)
    started.start()
    app, untouched = project / "app.py", project / "untouched.py"
    app.write_text("x = 1\n")
    untouched.write_text("y = 1\n")
    with Client(project, name="web", spawn=False) as client:
        client.watch(files=[app, untouched])
        watchman.stop()
        edit(app)
        watchman.restart()
        expect_changes(client, app)
        edit(untouched)
        expect_changes(client, untouched)


def test_1000_connect_exit_cycles_leave_memory_and_fds_flat(
    daemon: DaemonProcess, project: Path
) -> None:
    files = [project / f"m{i}.py" for i in range(20)]
    for path in files:
        path.write_text("")

    def cycle(count: int) -> None:
        for i in range(count):
            with Client(project, name=f"web {i % 3}", spawn=False) as client:
                client.watch(files=files)

    cycle(100)  # warm up allocator and caches
    rss_before, fds_before = _rss_kib(daemon.pid), _fd_count(daemon.pid)
    cycle(1000)
    rss_after, fds_after = _rss_kib(daemon.pid), _fd_count(daemon.pid)
    assert rss_after - rss_before < 8 * 1024, f"RSS grew from {rss_before} to {rss_after} KiB"
    assert fds_after - fds_before <= 3, f"fds grew from {fds_before} to {fds_after}"


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def _fd_count(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


@pytest.mark.parametrize("backend_name", ["builtin"])  # it drops a removed root at once
def test_a_root_removed_and_made_again_is_watched_again(
    daemon: DaemonProcess, project: Path, tmp_path: Path
) -> None:
    library = (tmp_path / "elsewhere" / "lib").resolve()  # outside the project: a root of its own
    module = library / "helper.py"
    library.mkdir(parents=True)
    module.write_text("x = 1\n")
    with Client(project, name="web", spawn=False) as client:
        client.watch(files=[module])
    with Client(project, name="probe", role=Role.TOOL, spawn=False) as probe:
        assert str(library) in probe.status().watched_roots
        shutil.rmtree(library)
        deadline = time.monotonic() + 10
        while str(library) in probe.status().watched_roots:
            assert time.monotonic() < deadline, "the daemon still counts the removed root"
            time.sleep(0.05)
    library.mkdir()
    module.write_text("x = 1\n")
    # Within the grace period: it takes its registration back and sends "unchanged".
    with Client(project, name="web", spawn=False) as client:
        assert client.daemon.registration
        client.watch(files=[module])
        edit(module)
        expect_changes(client, module)
