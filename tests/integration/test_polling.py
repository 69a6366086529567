"""Polling only where needed: a root on a share is polled, every other root stays on its watcher.

A real daemon on each backend (the private Watchman, the built-in inotify watcher). The
project is made "NFS-like" with ``RELOADD_POLL_PATHS`` (the documented override: this
machine has no NFS mount to offer); a folder outside it holds a file that the backend
watches as its own root, at the same time. Which root each one watches is read from the
watcher itself: Watchman's ``watch-list``, and for inotify the watches listed in the
daemon's ``/proc/PID/fdinfo``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from reloadd.client import Client
from reloadd.daemon.backends.poller import POLL_INTERVAL
from tests.daemon_process import DaemonProcess
from tests.integration.helpers import QUIET_PERIOD, edit, expect_quiet
from tests.watchman_instance import WatchmanInstance

NOTIFIED_WITHIN = 5 * POLL_INTERVAL
"""A polled edit must be told within a few intervals (a bound on the wait, not a timing)."""


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A small folder outside the project: the backend watches it as a root of its own."""
    folder = (tmp_path / "outside").resolve()
    folder.mkdir()
    (folder / "lib.py").write_text("# lib\n")
    return folder


@pytest.fixture
def watchman_used(
    backend_name: str, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[WatchmanInstance | None]:
    """The private Watchman on the Watchman backend (its watches below ``tmp_path`` dropped
    after the test), else ``None``."""
    if backend_name != "watchman":
        yield None
        return
    watchman: WatchmanInstance = request.getfixturevalue("watchman")
    yield watchman
    watchman.delete_watches_below(tmp_path)


@pytest.fixture
def start_daemon(
    project: Path,
    backend_name: str,
    tmp_path: Path,
    watchman_used: WatchmanInstance | None,
    daemon_factory: list[DaemonProcess],
) -> Callable[[], DaemonProcess]:
    """Start ``reloadd serve`` on the backend under test, with the environment as set now.

    ``daemon_factory`` comes after ``watchman_used``, so the daemons stop before their
    Watchman watches are deleted (Watchman 4.9 was seen to exit when a watch was deleted
    under a daemon's live subscription, failing every later test of the session).
    """

    def start() -> DaemonProcess:
        watchman = watchman_used
        daemon = DaemonProcess(
            project,
            backend=backend_name,
            log_path=tmp_path / "daemon.log",
            watchman_sock=str(watchman.sockpath) if watchman else None,
        )
        daemon_factory.append(daemon)
        return daemon.start()

    return start


def expect_told(client: Client, *paths: Path) -> None:
    """Wait (at most :data:`NOTIFIED_WITHIN`) until the client has been told of ``paths``."""
    wanted, told = set(paths), set[Path]()
    while not wanted <= told:
        changed = client.wait(timeout=NOTIFIED_WITHIN)
        if not changed:
            pytest.fail(f"not told of {sorted(map(str, wanted - told))} within {NOTIFIED_WITHIN} s")
        told.update(changed)
    assert told == wanted


def watched_by_backend(daemon: DaemonProcess, watchman: WatchmanInstance | None) -> set[str]:
    """Which of the project and the outside folder the daemon's watcher itself watches."""
    ours = {str(daemon.root), str(daemon.root.parent / "outside")}
    if watchman is not None:  # shared by the session's tests: only this test's folders count
        roots = {os.path.realpath(root) for root in watchman.command("watch-list")["roots"]}
        return roots & ours
    inodes: set[int] = set()
    fdinfo = Path(f"/proc/{daemon.pid}/fdinfo")
    for entry in fdinfo.iterdir():
        try:
            text = entry.read_text()
        except OSError:
            continue
        for line in text.splitlines():
            if line.startswith("inotify wd:"):
                fields = dict(f.split(":", 1) for f in line.split()[1:])
                inodes.add(int(fields["ino"], 16))
    return {
        str(p) for p in (daemon.root, daemon.root.parent / "outside") if p.stat().st_ino in inodes
    }


def test_a_share_is_polled_while_other_roots_stay_on_their_watcher(
    start_daemon: Callable[[], DaemonProcess],
    project: Path,
    outside: Path,
    monkeypatch: pytest.MonkeyPatch,
    watchman_used: WatchmanInstance | None,
) -> None:
    monkeypatch.setenv("RELOADD_POLL_PATHS", str(project))
    daemon = start_daemon()
    app, later = project / "app.py", project / "later.py"
    app.write_text("# app\n")
    (project / "templates").mkdir()
    page = project / "templates" / "page.html"
    page.write_text("<p>\n")
    lib = outside / "lib.py"
    with Client(project, name="web", spawn=False) as client:
        client.watch(files=[app, later, lib], globs=[(project / "templates", "**/*.html")])
        status = client.status()
        assert status.polled_roots == (str(project),)
        assert {str(project), str(outside)} <= set(status.watched_roots)
        assert watched_by_backend(daemon, watchman_used) == {str(outside)}

        edit(app)
        expect_told(client, app)
        later.write_text("# created after it was registered\n")
        expect_told(client, later)
        app.unlink()
        expect_told(client, app)
        edit(page)
        expect_told(client, page)
        nested = project / "templates" / "blog" / "post.html"
        nested.parent.mkdir()
        nested.write_text("<p>\n")
        (project / "templates" / "notes.txt").write_text("not a template\n")
        expect_told(client, nested)
        page.unlink()
        expect_told(client, page)
        (project / "unregistered.py").write_text("# nobody registered this\n")
        expect_quiet(client)

        edit(lib)  # on the watcher, meanwhile
        expect_told(client, lib)
    assert daemon.log().count(f"polling {project} every") == 1


def test_force_polling_polls_every_root(
    start_daemon: Callable[[], DaemonProcess],
    project: Path,
    outside: Path,
    monkeypatch: pytest.MonkeyPatch,
    watchman_used: WatchmanInstance | None,
) -> None:
    monkeypatch.setenv("RELOADD_FORCE_POLLING", "1")
    daemon = start_daemon()
    app = project / "app.py"
    app.write_text("# app\n")
    lib = outside / "lib.py"
    with Client(project, name="web", spawn=False) as client:
        client.watch(files=[app, lib])
        assert set(client.status().polled_roots) == {str(project), str(outside)}
        assert watched_by_backend(daemon, watchman_used) == set()
        edit(app)
        expect_told(client, app)
        edit(lib)
        expect_told(client, lib)
    assert "RELOADD_FORCE_POLLING is set" in daemon.log()


def test_without_a_share_nothing_is_polled(
    start_daemon: Callable[[], DaemonProcess], project: Path
) -> None:
    daemon = start_daemon()
    app = project / "app.py"
    app.write_text("# app\n")
    with Client(project, name="web", spawn=False) as client:
        client.watch(files=[app])
        assert client.status().polled_roots == ()
        edit(app)
        assert client.wait(timeout=QUIET_PERIOD + NOTIFIED_WITHIN) == [app]
    assert "polling" not in daemon.log()


def test_a_bad_poll_interval_stops_the_daemon_with_one_line(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RELOADD_POLL_INTERVAL", "often")
    done = subprocess.run(
        [sys.executable, "-m", "reloadd.client.cli", "serve", "--root", str(project)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 1, done.stderr
    reasons = [line for line in done.stderr.splitlines() if line.startswith("reloadd: ")]
    assert reasons == [
        "reloadd: RELOADD_POLL_INTERVAL='often' is not a number of seconds from 0.1 to 60"
    ], done.stderr
    assert "Traceback" not in done.stderr
