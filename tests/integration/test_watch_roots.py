"""Which folders a registration makes the daemon watch: never wider than it may."""

from __future__ import annotations

from pathlib import Path

from reloadd.client import Client
from tests.daemon_process import DaemonProcess
from tests.integration.helpers import edit, expect_changes


def _roots(client: Client) -> list[str]:
    return list(client.status().watched_roots)


def test_a_file_under_a_missing_folder_outside_the_project_is_not_watched_through_a_parent(
    daemon: DaemonProcess, project: Path, tmp_path: Path
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    missing = outside / "missing-dir" / "x.py"
    app = project / "app.py"
    app.write_text("x = 1\n")
    with Client(project, spawn=False) as client:
        reply = client.watch(files=[missing, "/nonexistent-dir/x.py", app])
        assert reply.files == 3
        assert reply.unwatched == 2
        roots = _roots(client)
        assert roots == [str(project)], roots
        edit(app)
        expect_changes(client, app)  # the daemon serves on
    assert "not watching 2 paths" in daemon.log()


def test_a_missing_file_inside_the_project_or_a_library_folder_is_watched(
    daemon: DaemonProcess, project: Path, tmp_path: Path
) -> None:
    site = tmp_path / "venv" / "lib" / "python3.99" / "site-packages"
    site.mkdir(parents=True)
    in_project = project / "not" / "yet" / "x.py"
    in_library = site / "pkg" / "missing.py"
    with Client(project, spawn=False) as client:
        reply = client.watch(files=[in_project, in_library])
        assert reply.unwatched == 0
        assert sorted(_roots(client)) == sorted([str(project), str(site)])
        in_library.parent.mkdir()
        in_library.write_text("x = 1\n")
        expect_changes(client, in_library)


def test_an_existing_file_outside_is_watched_through_its_own_folder_only(
    daemon: DaemonProcess, project: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "elsewhere" / "tools"
    folder.mkdir(parents=True)
    script = folder / "tool.py"
    script.write_text("x = 1\n")
    with Client(project, spawn=False) as client:
        reply = client.watch(files=[script])
        assert reply.unwatched == 0
        assert _roots(client) == [str(folder)]
        edit(script)
        expect_changes(client, script)
