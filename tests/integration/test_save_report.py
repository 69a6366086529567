"""An editor's save report (``saved``): real daemons, real sockets, real files, both backends.

A server registers a file (or a glob matching it) and an editor reports its saves. Most
tests write through the project path, so the watcher reports the same write too: the
server must be told exactly once, whichever of the two comes first. To know that the
watcher has had its say, the test then writes a second registered file (the marker),
which the watcher can only report in the same batch as the first write or after it:
the server must then be told of the marker alone.

A write through a hard link outside the project changes the file without any watcher
noticing (inotify reports a change to the folder of the name it was made through), so
there the editor's report is the only news: that makes "the report tells the server"
deterministic.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from reloadd.client import Client, DaemonNotRunning, Role
from reloadd.client.cli import main
from reloadd.protocol.endpoint import endpoint_for
from tests.daemon_process import DaemonProcess
from tests.integration.helpers import edit, expect_changes, wait_for_file_clock_past

ATTEMPTS = 5
"""Tries for the report to reach the daemon before the watcher's report of the same write
(it is sent within a millisecond of the write, the watcher waits 5 to 20 ms)."""

CLI_TIMEOUT = 30.0
"""Seconds a ``reloadd changed`` process may take (a Python start on a busy machine)."""


@dataclass(frozen=True)
class Files:
    """The files of one test: two watched, one nobody registers, one the watcher cannot see."""

    app: Path
    marker: Path
    unregistered: Path
    hidden: Path
    """A hard link to ``app`` outside the project: writes through it go unnoticed."""


@pytest.fixture
def files(project: Path, tmp_path: Path) -> Files:
    """The files, created."""
    package = project / "pkg"
    package.mkdir()
    app, marker, unregistered = package / "app.py", package / "marker.py", project / "notes.txt"
    for path in (app, marker, unregistered):
        path.write_text(f"# {path.name}\n")
    outside = tmp_path / "outside"
    outside.mkdir()
    hidden = outside / "app-link.py"
    os.link(app, hidden)
    return Files(app, marker, unregistered, hidden)


@contextmanager
def serving(daemon: DaemonProcess, files: Files, registration: str) -> Iterator[Client]:
    """A dev server that registered ``app`` and ``marker``, as files or through a glob."""
    with Client(daemon.root, name="web", spawn=False) as client:
        if registration == "file":
            client.watch(files=[files.app, files.marker])
        else:
            client.watch(globs=[(files.app.parent, "*.py")])
        yield client


@pytest.fixture(params=["file", "glob"])
def server(request: pytest.FixtureRequest, daemon: DaemonProcess, files: Files) -> Iterator[Client]:
    """The dev server, once with files and once with a glob."""
    with serving(daemon, files, request.param) as client:
        yield client


@pytest.fixture
def editor(daemon: DaemonProcess) -> Iterator[Client]:
    """An editor's persistent connection."""
    with Client(daemon.root, name="vim", role=Role.EDITOR, spawn=False) as client:
        yield client


def the_watcher_adds_nothing(server: Client, files: Files) -> None:
    """Once the watcher has reported a write of the marker, the server was told of it alone."""
    edit(files.marker)
    expect_changes(server, files.marker)


def write_unseen(files: Files) -> None:
    """Change ``app`` without the watcher noticing."""
    edit(files.hidden, f"# written through a hard link at {time.time_ns()}\n")


def reloadd_changed(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run the ``reloadd`` console script as an editor's hook would."""
    return subprocess.run(
        [str(Path(sys.executable).parent / "reloadd"), "changed", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT,
        check=False,
    )


def test_a_report_tells_the_server_and_the_watcher_does_not_again(
    server: Client, editor: Client, files: Files
) -> None:
    for _ in range(ATTEMPTS):
        edit(files.app)
        noted = editor.saved([files.app])
        expect_changes(server, files.app)
        the_watcher_adds_nothing(server, files)
        if noted.recorded:
            break  # the report came first, and the watcher's report of the write told no one
        assert noted.notified == 0  # the watcher came first: the report told no one again
    assert (noted.notified, noted.recorded) == (1, 1), "the watcher was first every time"


def test_a_report_after_the_watcher_tells_no_one_again(
    server: Client, editor: Client, files: Files
) -> None:
    edit(files.app)
    expect_changes(server, files.app)  # from the watcher
    noted = editor.saved([files.app])
    assert (noted.notified, noted.recorded) == (0, 0)
    the_watcher_adds_nothing(server, files)


def test_a_write_only_the_editor_reports_is_told_at_once(
    server: Client, editor: Client, files: Files
) -> None:
    write_unseen(files)
    noted = editor.saved([files.app])
    assert (noted.notified, noted.recorded) == (1, 1)
    expect_changes(server, files.app)
    again = editor.saved([files.app])  # the same state again: no news
    assert (again.notified, again.recorded) == (0, 0)
    the_watcher_adds_nothing(server, files)


def test_a_report_tells_every_client_of_the_file_once(
    daemon: DaemonProcess, editor: Client, files: Files
) -> None:
    with (
        Client(daemon.root, name="web", spawn=False) as by_file,
        Client(daemon.root, name="worker", spawn=False) as by_glob,
        Client(daemon.root, name="other", spawn=False) as other,
    ):
        by_file.watch(files=[files.app, files.marker])
        by_glob.watch(globs=[(daemon.root, "**/*.py")])
        other.watch(files=[files.marker])
        write_unseen(files)
        # Reported through a symlink to its folder: the daemon resolves it.
        link = files.hidden.parent / "pkg-link"
        link.symlink_to(files.app.parent)
        noted = editor.saved([link / files.app.name, files.unregistered])
        assert noted.notified == 2
        expect_changes(by_file, files.app)
        expect_changes(by_glob, files.app)
        edit(files.marker)
        expect_changes(other, files.marker)


def test_a_report_of_a_file_nobody_registered_tells_no_one(
    server: Client, editor: Client, files: Files
) -> None:
    edit(files.unregistered)
    assert editor.saved([files.unregistered]).notified == 0
    the_watcher_adds_nothing(server, files)


def test_a_report_is_looked_at_never_run(editor: Client, tmp_path: Path) -> None:
    witness = tmp_path / "witness"
    hostile = [f"/$(touch {witness})", f"/x; touch {witness}", f"{tmp_path}/`touch {witness}`"]
    assert editor.saved(hostile).notified == 0
    assert not witness.exists()
    assert editor.status().pid > 0  # and the daemon serves on


def test_a_reported_change_is_in_the_history_for_since(
    daemon: DaemonProcess, server: Client, editor: Client, files: Files
) -> None:
    since = time.time()
    wait_for_file_clock_past(since, files.hidden.parent)  # else the write may look older
    write_unseen(files)  # only the report can have put it in the daemon's history
    assert editor.saved([files.app]).recorded == 1
    expect_changes(server, files.app)
    with Client(daemon.root, name="restarted", spawn=False) as late:
        late.watch(files=[files.app], since=since)
        expect_changes(late, files.app)


def test_a_persistent_editor_reports_to_a_restarted_daemon(
    daemon: DaemonProcess,
    editor: Client,
    files: Files,
    daemon_factory: list[DaemonProcess],
    tmp_path: Path,
) -> None:
    daemon.stop()
    restarted = DaemonProcess(
        daemon.root,
        backend=daemon.backend,
        log_path=tmp_path / "restarted.log",
        watchman_sock=daemon.watchman_sock,
    )
    daemon_factory.append(restarted)
    restarted.start()
    with serving(restarted, files, "file") as server:
        write_unseen(files)
        assert editor.saved([files.app]).notified == 1  # it connected again by itself
        expect_changes(server, files.app)
    assert editor.daemon.pid == restarted.pid


def test_cli_changed_tells_the_server(daemon: DaemonProcess, files: Files) -> None:
    with serving(daemon, files, "file") as server:
        write_unseen(files)
        result = reloadd_changed("pkg/app.py", cwd=daemon.root)  # relative to the working folder
        assert result.returncode == 0, result.stderr
        assert result.stdout == "reloadd: told 1 dev server of 1 saved file\n"
        expect_changes(server, files.app)

        write_unseen(files)
        quiet = reloadd_changed("-q", "--root", str(daemon.root), str(files.app), cwd=Path("/"))
        assert (quiet.returncode, quiet.stdout, quiet.stderr) == (0, "", "")
        expect_changes(server, files.app)


def test_cli_changed_after_the_watcher_and_for_unregistered_files(
    daemon: DaemonProcess, files: Files
) -> None:
    with serving(daemon, files, "file") as server:
        edit(files.app)
        expect_changes(server, files.app)  # the watcher first, as it mostly is for the CLI
        first = reloadd_changed(str(files.app), cwd=daemon.root)
        assert first.returncode == 0, first.stderr
        assert first.stdout.startswith(
            "reloadd: told no dev server: the daemon's watcher had already reported"
        )

        scratch = [files.hidden.parent / name for name in ("a.py", "b.py")]
        for path in scratch:  # in no watched folder: news to the daemon, registered by no one
            path.write_text("x = 1\n")
        second = reloadd_changed(*map(str, scratch), cwd=daemon.root)
        # Outside the project and told to no one: most likely a mistake, so it says so.
        assert (second.returncode, second.stdout) == (1, "")
        assert second.stderr.splitlines() == [
            f"reloadd: {path}: not in the project {daemon.root} (pass --root if it is another "
            "project's); told no dev server"
            for path in scratch
        ]
        the_watcher_adds_nothing(server, files)


def test_cli_changed_without_a_daemon_fails_and_starts_none(project: Path) -> None:
    (project / "app.py").write_text("x = 1\n")
    result = reloadd_changed("app.py", cwd=project)
    assert result.returncode == 1
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"reloadd: no daemon runs for {project}, so there is no one to tell")
    assert "reloadd start" in lines[0]
    endpoint = endpoint_for(project)
    assert not endpoint.socket_path.exists()
    assert not endpoint.log_path.exists(), "a daemon was started"
    with pytest.raises(DaemonNotRunning):
        Client(project, spawn=False, handshake_timeout=0.2)


def test_cli_help_shows_changed_with_an_example(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    assert "changed   report saved files to the running daemon" in out
    assert "\n  reloadd changed app/views.py " in out
    with pytest.raises(SystemExit):
        main(["changed", "--help"])
    assert "--quiet" in capsys.readouterr().out
