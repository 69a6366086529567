"""``ChangeHistory.track``: what ``since`` reports, for files and for globs."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import pytest

from reloadd.daemon import history as history_module
from reloadd.daemon.backends.base import ChangeBatch
from reloadd.daemon.history import ChangeHistory
from reloadd.protocol import GlobSpec


def written_before_now(path: Path) -> float:
    """Write ``path``; return a time after its mtime and ctime (the clock moved on), to use as since."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("")
    stamp = max(path.stat().st_mtime, path.stat().st_ctime)
    deadline = time.monotonic() + 5
    while time.time() <= stamp + 0.001 and time.monotonic() < deadline:
        time.sleep(0.001)
    return time.time()


def write_after(since: float, *paths: Path) -> None:
    """Write ``paths`` once the file clock (which lags by up to a tick) is past ``since``."""
    probe = paths[0].parent / ".clock-probe"
    probe.parent.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        probe.write_text("")
        if probe.stat().st_ctime > since:
            break
        time.sleep(0.001)
    for path in paths:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("")


def test_a_file_written_before_since_but_seen_after_it_is_not_reported(tmp_path: Path) -> None:
    old, new = tmp_path / "old.py", tmp_path / "new.py"
    since = written_before_now(old)  # written just before the process started
    write_after(since, new)  # an edit while it imported
    history = ChangeHistory()
    history.observe(ChangeBatch(paths=frozenset({str(old), str(new)})), at=since + 0.01)
    files = {str(old): str(old), str(new): str(new)}
    assert history.track(files, {}, since) == {str(new)}


def test_a_deleted_file_seen_after_since_is_reported(tmp_path: Path) -> None:
    gone = tmp_path / "gone.py"
    history = ChangeHistory()
    since = time.time()
    history.observe(ChangeBatch(paths=frozenset({str(gone)})), at=since + 0.01)
    assert history.track({str(gone): str(gone)}, {}, since) == {str(gone)}


def test_globs_under_a_root_watched_late_are_walked_once_within_the_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    since = written_before_now(tmp_path / "old.html")
    write_after(since, *(tmp_path / name for name in ("a/x.html", "a/b/y.html", "a/b/z.txt")))
    history = ChangeHistory()
    history.root_watched(tmp_path, time.time())
    glob = GlobSpec(str(tmp_path), "**/*.html")
    found = history.track({}, {glob: str(tmp_path)}, since)
    assert found == {str(tmp_path / "a/x.html"), str(tmp_path / "a/b/y.html")}
    hostile = GlobSpec(str(tmp_path), "**/" * 85 + "y.html")
    assert history.track({}, {hostile: str(tmp_path)}, since) == {str(tmp_path / "a/b/y.html")}
    monkeypatch.setattr(history_module, "MAX_SINCE_SCAN_ENTRIES", 2)
    with caplog.at_level(logging.WARNING, logger="reloadd.daemon"):
        assert len(history.track({}, {glob: str(tmp_path)}, since)) < 2
    assert "MAX_SINCE_SCAN_ENTRIES" in caplog.text
