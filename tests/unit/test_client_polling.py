"""The in-process poller: files added while it runs, paths seen through a view, and a remote
client's filter of what its poller already reported."""

from __future__ import annotations

import os
import time
from pathlib import Path

from reloadd.client.path_map import PathMap
from reloadd.client.polling import PollingWatcher
from reloadd.client.remote import Remote
from reloadd.protocol import GlobSpec
from reloadd.protocol.endpoint import RemoteEndpoint


def touch_later(path: Path, text: str) -> None:
    """Write ``path`` with an mtime a second later than any before (no coarse-clock tie)."""
    path.write_text(text)
    later = time.time() + 1
    os.utime(path, (later, later))


def test_a_file_added_while_polling_is_reported_only_once_it_changes(tmp_path: Path) -> None:
    first, added = tmp_path / "first.py", tmp_path / "added.py"
    first.write_text("1")
    added.write_text("1")
    poller = PollingWatcher([str(first)], [], since=time.time() + 60)
    assert poller.poll() == []
    poller.add([str(added)], [GlobSpec(str(tmp_path), "*.txt")], since=0.0)
    (tmp_path / "old.txt").write_text("matched by the new glob, unchanged")
    poller.add([], [GlobSpec(str(tmp_path), "*.txt")], since=0.0)
    assert poller.poll() == []
    touch_later(added, "2")
    assert poller.poll() == [str(added)]


def test_a_file_added_with_since_is_reported_if_written_after_it(tmp_path: Path) -> None:
    poller = PollingWatcher([], [], since=0.0)
    assert poller.poll() == []
    edited = tmp_path / "edited.py"
    since = time.time() - 5
    edited.write_text("written after since")
    poller.add([str(edited)], [], since=since)
    assert poller.poll() == [str(edited)]


def test_the_fallback_poller_stats_the_client_s_paths(tmp_path: Path) -> None:
    mine = tmp_path / "app"
    mine.mkdir()
    (mine / "v.py").write_text("1")
    paths = PathMap.parse(f"{mine}=/host/proj")
    poller = PollingWatcher(["/host/proj/v.py"], [], time.time() + 60, view=paths.to_client)
    assert poller.poll() == []
    touch_later(mine / "v.py", "2")
    assert poller.poll() == [str(mine / "v.py")]


def test_what_the_poller_saw_is_not_reported_again_after_reconnecting(tmp_path: Path) -> None:
    seen, later = tmp_path / "seen.py", tmp_path / "later.py"
    seen.write_text("1")
    later.write_text("1")
    remote = Remote(RemoteEndpoint(root=tmp_path, address="tcp://h:1"), b"s", b"p", b"x", None)
    poller = PollingWatcher([str(seen), str(later)], [], since=0.0)
    poller.poll()
    remote.seen_while_polling(poller.states)
    touch_later(later, "2")  # changed after the poller's last scan: still news
    assert remote.unseen([str(seen), str(later), "/not/polled.py"]) == [
        str(later),
        "/not/polled.py",
    ]
