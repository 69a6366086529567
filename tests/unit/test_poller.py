"""The poller's checks, one at a time, on real files: what each ``stat`` pass reports.

Times are set with ``os.utime`` where an edit must be seen, so that a coarse file clock
never makes two states look alike.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import pytest

from reloadd.daemon.backends.base import ChangeBatch
from reloadd.daemon.backends.polled_glob import PolledGlob
from reloadd.daemon.backends.poller import POLL_INTERVAL, Poller, poll_interval
from reloadd.protocol.errors import BackendError
from reloadd.protocol.file_state import stat_state


def touch(path: Path, text: str = "x\n", *, at: float = 1_000_000.0) -> str:
    """Write ``path`` with a given mtime (so each write has a distinct state); its name."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    os.utime(path, (at, at))
    return str(path)


NEVER = 3600.0
"""An interval the tests never reach: they run each check themselves, so the poll thread
(started with the first root) must not run one meanwhile."""


def poller_on(root: Path) -> Poller:
    poller = Poller(lambda batch: None, interval=NEVER)
    poller.add_roots([str(root)])
    return poller


def checked(poller: Poller) -> set[str]:
    poller._apply_queue()
    return poller.check()


def test_only_registered_files_are_checked(tmp_path: Path) -> None:
    app = touch(tmp_path / "app.py")
    other = touch(tmp_path / "other.py")
    poller = poller_on(tmp_path)
    try:
        poller.track({app: stat_state(app)})
        assert checked(poller) == set()
        touch(Path(other), at=2_000_000.0)
        assert checked(poller) == set()
        touch(Path(app), at=2_000_000.0)
        assert checked(poller) == {app}
        assert checked(poller) == set()  # reported once
    finally:
        poller.close()


def test_a_change_between_registration_and_the_first_check_is_reported(tmp_path: Path) -> None:
    app = touch(tmp_path / "app.py")
    poller = poller_on(tmp_path)
    try:
        poller.track({app: stat_state(app)})  # the state when it was registered
        touch(Path(app), at=2_000_000.0)
        assert checked(poller) == {app}
    finally:
        poller.close()


def test_deleted_and_created_files_are_reported(tmp_path: Path) -> None:
    app = touch(tmp_path / "app.py")
    later = str(tmp_path / "pkg" / "later.py")
    poller = poller_on(tmp_path)
    try:
        poller.track({app: stat_state(app), later: None})
        os.unlink(app)
        assert checked(poller) == {app}
        touch(Path(later))
        assert checked(poller) == {later}
    finally:
        poller.close()


def test_an_untracked_file_is_no_longer_checked(tmp_path: Path) -> None:
    app = touch(tmp_path / "app.py")
    poller = poller_on(tmp_path)
    try:
        poller.track({app: stat_state(app)})
        poller.untrack([app])
        touch(Path(app), at=2_000_000.0)
        assert checked(poller) == set()
    finally:
        poller.close()


def test_the_poll_thread_hands_batches_to_the_sink(tmp_path: Path) -> None:
    app = touch(tmp_path / "app.py")
    batches: list[ChangeBatch] = []
    poller = Poller(batches.append, interval=0.1)
    try:
        poller.add_roots([str(tmp_path)])
        poller.track({app: stat_state(app)})
        touch(Path(app), at=2_000_000.0)
        deadline = time.monotonic() + 10
        while not batches and time.monotonic() < deadline:
            time.sleep(0.01)
        assert batches == [ChangeBatch(paths=frozenset({app}))]
    finally:
        poller.close()


def test_roots_below_a_polled_root_are_not_added_twice(tmp_path: Path) -> None:
    poller = Poller(lambda batch: None, interval=NEVER)
    try:
        assert poller.add_roots([str(tmp_path)]) == {str(tmp_path)}
        assert poller.add_roots([str(tmp_path / "sub"), str(tmp_path)]) == set()
        assert poller.covers(str(tmp_path))
        assert poller.covers(str(tmp_path / "x"))
        assert not poller.covers(str(tmp_path) + "-other")
        assert poller.below([str(tmp_path / "a"), "/elsewhere/b"]) == [str(tmp_path / "a")]
    finally:
        poller.close()


def test_nothing_polled_costs_nothing() -> None:
    poller = Poller(lambda batch: None, interval=NEVER)
    assert poller.below(["/a", "/b"]) == []
    poller.close()


def test_the_interval_comes_from_the_environment() -> None:
    assert poll_interval({}) == POLL_INTERVAL
    assert poll_interval({"RELOADD_POLL_INTERVAL": "2.5"}) == 2.5
    for bad in ("0", "fast", "61", "-1"):
        with pytest.raises(BackendError, match="RELOADD_POLL_INTERVAL"):
            poll_interval({"RELOADD_POLL_INTERVAL": bad})


# -- globs -------------------------------------------------------------------------------


def test_a_glob_reports_matches_created_edited_and_removed(tmp_path: Path) -> None:
    templates = tmp_path / "templates"
    page = touch(templates / "page.html")
    touch(templates / "notes.txt")
    glob = PolledGlob(str(templates), "**/*.html", since=time.time() + 3600)
    assert glob.check() == set()
    touch(Path(page), at=2_000_000.0)
    assert glob.check() == {page}
    nested = touch(templates / "blog" / "deep" / "post.html")
    touch(templates / "blog" / "notes.txt")
    assert glob.check() == {nested}
    os.unlink(page)
    assert glob.check() == {page}
    assert glob.check() == set()


def test_a_removed_folder_reports_the_matches_it_held(tmp_path: Path) -> None:
    templates = tmp_path / "templates"
    post = touch(templates / "blog" / "post.html")
    glob = PolledGlob(str(templates), "**/*.html", since=time.time() + 3600)
    os.unlink(post)
    os.rmdir(templates / "blog")
    assert glob.check() == {post}


def test_a_glob_folder_that_appears_later_is_listed_then(tmp_path: Path) -> None:
    templates = tmp_path / "templates"
    glob = PolledGlob(str(templates), "*.html", since=time.time() + 3600)
    assert glob.check() == set()
    page = touch(templates / "page.html")
    assert glob.check() == {page}


def test_folders_no_match_can_lie_in_are_not_kept(tmp_path: Path) -> None:
    templates = tmp_path / "templates"
    touch(templates / "page.html")
    for i in range(5):
        touch(templates / f"skip{i}" / "deep" / "x.html")
    glob = PolledGlob(str(templates), "*.html", since=time.time() + 3600)
    assert len(glob) == 2  # the folder and its one match: one stat each per check


def test_matches_written_after_the_glob_was_registered_are_reported_first(
    tmp_path: Path,
) -> None:
    templates = tmp_path / "templates"
    old = touch(templates / "old.html")
    registered = time.time()
    new = str(templates / "new.html")
    deadline = time.monotonic() + 10
    while stat_state(touch(Path(new)))[1] <= registered * 1e9:  # type: ignore[index]
        assert time.monotonic() < deadline, "the file clock did not move past the registration"
        time.sleep(0.001)
    glob = PolledGlob(str(templates), "*.html", since=registered)
    assert glob.check() == {new}
    assert old not in glob.check()


def test_a_glob_folder_deeper_than_pythons_stack_is_walked() -> None:
    # Not in tmp_path: pytest removes old tmp folders with shutil.rmtree, which recurses
    # and would fail on this tree if the test were killed before removing it.
    base = tempfile.mkdtemp(prefix="reloadd-deep-")
    top = base + "/templates"
    deep, levels = top, [base, top]
    for _ in range(1100):  # more levels than the default recursion limit (1000)
        deep += "/d"
        levels.append(deep)
    page = deep + "/page.html"
    try:
        for level in levels:
            if level != base:
                os.mkdir(level)  # one at a time: os.makedirs recurses too
        Path(page).write_text("<p>\n")
        glob = PolledGlob(top, "**/*.html", since=time.time() + 3600)
        touch(Path(page), at=2_000_000.0)
        assert glob.check() == {page}
    finally:
        # Bottom up, one at a time: shutil.rmtree would recurse.
        if os.path.exists(page):
            os.unlink(page)
        for level in reversed(levels):
            if os.path.isdir(level):
                os.rmdir(level)
