"""A registration taken back after a restart never reports what the new one leaves out."""

from __future__ import annotations

import time
from pathlib import Path

from reloadd.client import Client
from tests.daemon_process import DaemonProcess
from tests.integration.helpers import edit, expect_changes


def test_a_client_that_registers_other_globs_is_not_told_about_the_old_ones(
    daemon: DaemonProcess, project: Path
) -> None:
    old, new = project / "old", project / "new"
    for folder in (old, new):
        folder.mkdir()
        (folder / "a.py").write_text("")
    with Client(project, name="dev server", spawn=False) as first:
        first.watch(globs=[(old, "*.py")])
    # The same command restarted (same name) within the grace period, now watching another
    # folder: it takes the old registration back, then sends its own.
    with Client(project, name="dev server", spawn=False) as second:
        assert second.daemon.registration, "the old registration was taken back"
        second.watch(globs=[(new, "*.py")])
        edit(old / "a.py")
        edit(new / "a.py")
        expect_changes(second, new / "a.py")


def test_a_client_that_registers_the_same_files_keeps_its_registration(
    daemon: DaemonProcess, project: Path
) -> None:
    app = project / "app.py"
    app.write_text("")
    with Client(project, name="dev server", spawn=False) as first:
        first.watch(files=[app], globs=[(project, "*.txt")])
    with Client(project, name="dev server", spawn=False) as second:
        reply = second.watch(files=[app], globs=[(project, "*.txt")])
        assert (reply.files, reply.globs) == (1, 1)
        edit(project / "notes.txt")
        expect_changes(second, project / "notes.txt")


def test_a_taken_back_registration_still_names_its_unwatched_paths(
    daemon: DaemonProcess, project: Path
) -> None:
    app = project / "app.py"
    app.write_text("x = 1\n")
    missing = Path("/nonexistent-dir/x.py")
    with Client(project, name="web", spawn=False) as client:
        assert client.watch(files=[app, missing]).unwatched == 1
    restarted_at = time.time()
    with Client(project, name="web", spawn=False) as client:
        client.watch(files=[app, missing], since=restarted_at)  # taken back: sent unchanged
        edit(app)
        expect_changes(client, app)
    # Both registrations logged the path no root covers, the second without re-checking all.
    assert daemon.log().count("not watching 1 paths, e.g. /nonexistent-dir/x.py") == 2
