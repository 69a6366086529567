"""End to end: a real daemon process, real sockets, real files, on both backends."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

from reloadd.client import Client
from tests.daemon_process import DaemonProcess
from tests.integration.helpers import NOTIFY_TIMEOUT, edit, expect_changes, expect_quiet


def make_files(root: Path, *names: str) -> list[Path]:
    """Create files below ``root`` and return their paths."""
    paths = []
    for name in names:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"# {name}\n")
        paths.append(path)
    return paths


def test_edit_of_a_registered_file_is_reported_once(daemon: DaemonProcess, project: Path) -> None:
    app, _other = make_files(project, "app.py", "other.py")
    with Client(project, name="web", spawn=False) as client:
        assert client.backend == daemon.backend
        reply = client.watch(files=[app])
        assert (reply.files, reply.globs) == (1, 0)
        edit(app)
        expect_changes(client, app)


def test_edit_of_an_unregistered_file_is_not_reported(daemon: DaemonProcess, project: Path) -> None:
    app, other = make_files(project, "app.py", "other.py")
    with Client(project, name="web", spawn=False) as client:
        client.watch(files=[app])
        edit(other)
        expect_quiet(client)


def test_created_and_deleted_files_are_reported(daemon: DaemonProcess, project: Path) -> None:
    (gone,) = make_files(project, "gone.py")
    new = project / "pkg" / "new.py"
    new.parent.mkdir()
    with Client(project, name="web", spawn=False) as client:
        client.watch(files=[gone, new])
        gone.unlink()
        expect_changes(client, gone)
        new.write_text("x = 1\n")
        expect_changes(client, new)


def test_files_in_a_renamed_or_moved_out_folder_are_reported(
    daemon: DaemonProcess, project: Path, tmp_path: Path
) -> None:
    # inotify names only the folder; the daemon must still tell of the files below it.
    renamed, moved_out = make_files(project, "pkg/views.py", "lib/util.py")
    with Client(project, name="web", spawn=False) as client:
        client.watch(files=[renamed, moved_out])
        os.rename(project / "pkg", project / "package")
        expect_changes(client, renamed)
        os.rename(project / "lib", tmp_path / "lib-elsewhere")
        expect_changes(client, moved_out)


def test_recursive_and_overlapping_globs(daemon: DaemonProcess, project: Path) -> None:
    page, nested, mo, py = make_files(
        project,
        "templates/page.html",
        "templates/blog/deep/post.html",
        "locale/de/LC_MESSAGES/django.mo",
        "templates/helper.py",
    )
    with Client(project, name="web", spawn=False) as client:
        client.watch(
            globs=[
                (project / "templates", "**/*.html"),
                (project / "templates", "*.html"),  # overlaps the one above
                (project / "templates", "**/*"),  # overlaps both
                (project / "locale", "**/LC_MESSAGES/*.mo"),
            ]
        )
        edit(nested)
        expect_changes(client, nested)
        edit(page)
        expect_changes(client, page)
        edit(mo)
        expect_changes(client, mo)
        edit(py)  # only "**/*" matches it
        expect_changes(client, py)
        edit(project / "untracked.html")
        expect_quiet(client)


def test_two_clients_are_told_only_of_their_own_files(daemon: DaemonProcess, project: Path) -> None:
    shared, only_a, only_b = make_files(project, "shared.py", "a.py", "b.py")
    with Client(project, name="a", spawn=False) as a, Client(project, name="b", spawn=False) as b:
        a.watch(files=[shared, only_a])
        b.watch(files=[shared], globs=[(project, "b*.py")])
        edit(only_a)
        expect_changes(a, only_a)
        expect_quiet(b)
        edit(only_b)
        expect_changes(b, only_b)
        expect_quiet(a)
        edit(shared)
        expect_changes(a, shared)
        expect_changes(b, shared)
        status = a.status()
        assert sorted((c.name, c.files, c.globs) for c in status.clients if c.connected) == [
            ("b", 1, 1)
        ]


def test_unwatch_stops_notifications(daemon: DaemonProcess, project: Path) -> None:
    app, page = make_files(project, "app.py", "t/page.html")
    with Client(project, name="web", spawn=False) as client:
        client.watch(files=[app], globs=[(project / "t", "*.html")])
        reply = client.unwatch(files=[app], globs=[(project / "t", "*.html")])
        assert (reply.files, reply.globs) == (0, 0)
        edit(app)
        edit(page)
        expect_quiet(client)


def test_files_outside_the_project_are_watched_too(
    daemon: DaemonProcess, project: Path, tmp_path: Path
) -> None:
    (outside,) = make_files(tmp_path / "elsewhere", "lib.py")
    with Client(project, name="web", spawn=False) as client:
        client.watch(files=[outside])
        edit(outside)
        expect_changes(client, outside)
        assert str(outside.parent) in client.status().watched_roots


def test_a_client_in_another_process_is_notified(daemon: DaemonProcess, project: Path) -> None:
    (app,) = make_files(project, "app.py")
    ready = project / "ready.flag"
    script = textwrap.dedent(
        f"""
        import sys
        from pathlib import Path
        from reloadd.client import Client
        with Client({str(project)!r}, name="child", spawn=False) as client:
            client.watch(files=[{str(app)!r}])
            Path({str(ready)!r}).write_text("ready")
            print(",".join(str(p) for p in client.wait(timeout={NOTIFY_TIMEOUT})), flush=True)
        """
    )
    child = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        deadline_ok = _wait_for_file(ready, child)
        assert deadline_ok, child.stderr.read() if child.stderr else ""
        edit(app)
        out, err = child.communicate(timeout=NOTIFY_TIMEOUT + 5)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert out.strip() == str(app), err


def test_status_lists_clients_and_roots(daemon: DaemonProcess, project: Path) -> None:
    (app,) = make_files(project, "app.py")
    with (
        Client(project, name="web", spawn=False) as web,
        Client(project, name="probe", spawn=False) as probe,
    ):
        web.watch(files=[app], globs=[(project, "*.txt")])
        status = probe.status()
    assert status.root == str(project)
    assert status.pid == daemon.pid
    assert status.backend == daemon.backend
    assert status.endpoint == daemon.endpoint.address
    assert [(c.name, c.pid, c.files, c.globs) for c in status.clients if c.connected] == [
        ("web", os.getpid(), 1, 1)
    ]
    assert str(project) in status.watched_roots


def test_sigterm_removes_the_socket(daemon: DaemonProcess) -> None:
    assert daemon.endpoint.socket_path.exists()
    assert daemon.stop() == 0
    assert not daemon.endpoint.socket_path.exists()


def _wait_for_file(path: Path, child: subprocess.Popen[str]) -> bool:
    import time

    deadline = time.monotonic() + NOTIFY_TIMEOUT
    while time.monotonic() < deadline:
        if path.exists():
            return True
        if child.poll() is not None:
            return False
        time.sleep(0.01)
    return False
