"""Save reports in the daemon's history: one write reported by an editor and the watcher is one change."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from reloadd.daemon import history as history_module
from reloadd.daemon.backends.base import ChangeBatch
from reloadd.daemon.history import ChangeHistory


def batch(*paths: Path) -> ChangeBatch:
    """What a watcher reports."""
    return ChangeBatch(paths=frozenset(map(str, paths)))


@pytest.fixture
def app(tmp_path: Path) -> Path:
    """A file."""
    path = tmp_path / "app.py"
    path.write_text("x = 1\n")
    return path


@pytest.fixture(params=["registered", "globbed"])
def history(request: pytest.FixtureRequest, app: Path) -> ChangeHistory:
    """A history that tracks ``app`` (a registered file), or not (a glob's match)."""
    found = ChangeHistory()
    if request.param == "registered":
        found.track({str(app): str(app)}, {}, since=0)
    return found


def test_a_report_then_the_watchers_report_of_the_same_write(
    history: ChangeHistory, app: Path
) -> None:
    before = time.time()
    app.write_text("x = 22\n")
    assert history.report([str(app)]) == {str(app)}
    assert history.observe(batch(app)) == set()
    assert history.observe(batch(app)) == set(), "a second report of the same write"
    assert list(history.log.changed_since(before)) == [str(app)]


def test_the_watchers_report_then_a_report_of_the_same_write(
    history: ChangeHistory, app: Path
) -> None:
    history.observe(batch(app), at=50.0)  # an earlier change, long ago
    app.write_text("x = 22\n")
    assert history.observe(batch(app)) == {str(app)}
    assert history.report([str(app)]) == set()


def test_a_report_of_a_file_written_after_the_watchers_last_report(
    history: ChangeHistory, app: Path
) -> None:
    history.observe(batch(app), at=50.0)
    app.write_text("x = 22\n")
    assert history.report([str(app)], at=60.0) == {str(app)}


def test_a_write_after_the_report_is_news_to_the_watcher(history: ChangeHistory, app: Path) -> None:
    app.write_text("x = 22\n")
    assert history.report([str(app)]) == {str(app)}
    app.write_text("x = 333\n")
    assert history.observe(batch(app)) == {str(app)}
    assert history.report([str(app)]) == set()


def test_the_same_state_reported_twice_is_one_change(history: ChangeHistory, app: Path) -> None:
    app.write_text("x = 22\n")
    assert history.report([str(app), str(app)], at=100.0) == {str(app)}
    assert history.report([str(app)], at=100.1) == set()


def test_a_deleted_file_is_a_change_once(history: ChangeHistory, app: Path) -> None:
    app.unlink()
    assert history.report([str(app)], at=100.0) == {str(app)}
    assert history.report([str(app)], at=100.1) == set()
    assert history.observe(batch(app), at=100.2) == set()


def test_reports_are_forgotten_when_too_many_or_too_old(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, app: Path
) -> None:
    monkeypatch.setattr(history_module, "MAX_REPORTED", 2)
    history = ChangeHistory()
    first, second = tmp_path / "1.py", tmp_path / "2.py"
    for path in (first, second):
        path.write_text("y = 1\n")
    assert history.report([str(app)], at=100.0) == {str(app)}
    assert history.report([str(first), str(second)], at=101.0) == {str(first), str(second)}
    # Too many: app's report is forgotten, and the watcher's report of that write is news.
    assert history.observe(batch(app, first), at=102.0) == {str(app)}
    history.report([], at=101.0 + history_module.REPORT_SECONDS + 0.5)
    # Too old: so is the watcher's report of second's write.
    assert history.observe(batch(second), at=200.0) == {str(second)}
