"""A registration taken back after a restart never reports what the new one leaves out."""

from __future__ import annotations

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
