"""The built-in backends (our inotify one, watchfiles' RustNotify) against real files in ``tmp_path``.

Both run here: the daemon uses the inotify one on Linux and watchfiles' elsewhere.
"""

from __future__ import annotations

import logging
import os
import shutil
import sys
import threading
import time
from collections.abc import Callable, Collection, Iterator
from pathlib import Path

import pytest

from reloadd.daemon.backends.base import Backend, ChangeBatch
from reloadd.daemon.backends.inotify_backend import InotifyBackend
from reloadd.daemon.backends.vcs_hold import VcsHold
from reloadd.daemon.backends.watchfiles_backend import WatchfilesBackend
from reloadd.protocol.errors import BackendError
from tests.integration.batches import TIMEOUT, Batches
from tests.integration.helpers import files_written_meanwhile

QUIET = 0.3
"""Seconds to wait to be sure no further batch comes (60 steps of the watcher)."""


BuiltinBackend = InotifyBackend | WatchfilesBackend


@pytest.fixture(params=[InotifyBackend, WatchfilesBackend], ids=["inotify", "watchfiles"])
def backend_class(request: pytest.FixtureRequest) -> type[Backend]:
    cls: type[Backend] = request.param
    return cls


@pytest.fixture
def make_backend(
    batches: Batches, backend_class: type[BuiltinBackend]
) -> Iterator[Callable[..., BuiltinBackend]]:
    made: list[BuiltinBackend] = []

    def make(sink: Callable[[ChangeBatch], None] = batches) -> BuiltinBackend:
        backend = backend_class(sink)
        backend.start()
        made.append(backend)
        return backend

    yield make
    for backend in made:
        backend.close()


@pytest.fixture
def backend(make_backend: Callable[..., BuiltinBackend]) -> BuiltinBackend:
    return make_backend()


@pytest.fixture
def root(tmp_path: Path) -> Path:
    folder = tmp_path / "root"
    (folder / "pkg").mkdir(parents=True)
    (folder / "pkg" / "mod.py").write_text("x = 1\n")
    return folder.resolve()


def _wait_until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + TIMEOUT
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"not true within {TIMEOUT}s: {what}")
        time.sleep(0.01)


def _watcher_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("reloadd-builtin")]


def _inotify_instances() -> int:
    """The inotify instances this process holds (the per-user limit is shared: 128)."""
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            count += os.readlink(f"/proc/self/fd/{fd}") == "anon_inode:inotify"
        except OSError:  # closed meanwhile (the listing's own fd, among others)
            pass
    return count


def test_edit_is_reported_in_one_batch(
    backend: BuiltinBackend, batches: Batches, root: Path
) -> None:
    backend.watch_roots([root], timeout=TIMEOUT)
    assert backend.watched_roots() == {root}
    module = root / "pkg" / "mod.py"
    module.write_text("x = 2\n")
    [batch] = batches.wait_for_all(module)
    assert batch.paths == {str(module)}
    assert batches.collect_for(QUIET) == []


def test_create_and_delete_are_reported(
    backend: BuiltinBackend, batches: Batches, root: Path
) -> None:
    backend.watch_roots([root], timeout=TIMEOUT)
    new = root / "pkg" / "new.py"
    new.write_text("")
    batches.wait_for_all(new)
    old = root / "pkg" / "mod.py"
    old.unlink()
    batches.wait_for_all(old)


def test_change_right_after_watch_roots_is_reported(
    backend: BuiltinBackend, batches: Batches, tmp_path: Path
) -> None:
    for i in range(30):
        fresh = tmp_path / f"fresh{i}"
        (fresh / "a" / "b").mkdir(parents=True)
        target = fresh / "a" / "b" / "mod.py"
        target.write_text("")
        backend.watch_roots([fresh], timeout=TIMEOUT)
        target.write_text("changed\n")
        batches.wait_for_all(target)


def test_files_in_a_new_folder_are_reported(
    backend: BuiltinBackend, batches: Batches, root: Path
) -> None:
    # inotify only watches a new folder once it saw it appear; the scan covers the gap.
    backend.watch_roots([root], timeout=TIMEOUT)
    for i in range(20):
        deep = root / f"new{i}" / "deeper"
        deep.mkdir(parents=True)
        (deep / "mod.py").write_text("")
        batches.wait_for_all(deep / "mod.py")
        (deep / "mod.py").write_text("edited\n")
        batches.wait_for_all(deep / "mod.py")


def test_nested_root_costs_nothing(backend: BuiltinBackend, batches: Batches, root: Path) -> None:
    backend.watch_roots([root], timeout=TIMEOUT)
    threads = _watcher_threads()
    backend.watch_roots([root / "pkg", root, root / "pkg" / "missing-is-fine"], timeout=TIMEOUT)
    assert backend.watched_roots() == {root}
    assert _watcher_threads() == threads
    module = root / "pkg" / "mod.py"
    module.write_text("x = 2\n")
    assert len(batches.wait_for_all(module)) == 1
    assert batches.collect_for(QUIET) == []


def test_nested_roots_in_one_call_cost_one_watcher(backend: BuiltinBackend, root: Path) -> None:
    backend.watch_roots([root / "pkg", root], timeout=TIMEOUT)
    assert backend.watched_roots() == {root}
    assert len(_watcher_threads()) == 1


def test_a_newer_outer_root_retires_the_inner_one(
    backend: BuiltinBackend, batches: Batches, root: Path
) -> None:
    inner = root / "pkg"
    backend.watch_roots([inner], timeout=TIMEOUT)
    module = inner / "mod.py"
    module.write_text("before\n")  # collected by the inner watcher, perhaps not yet reported
    backend.watch_roots([root], timeout=TIMEOUT)
    batches.wait_for_all(module)
    assert backend.watched_roots() == {root}
    _wait_until(lambda: len(_watcher_threads()) == 1, "the inner watcher's thread ended")
    batches.collect_for(QUIET)
    module.write_text("after\n")
    assert len(batches.wait_for_all(module)) == 1
    assert batches.collect_for(QUIET) == [], "reported twice"


def test_burst_of_writes_gives_few_batches(
    backend: BuiltinBackend, batches: Batches, root: Path
) -> None:
    backend.watch_roots([root], timeout=TIMEOUT)
    files = [root / "pkg" / f"m{i}.py" for i in range(500)]
    for path in files:
        path.write_text("x\n")
    got = batches.wait_for_all(*files)
    print(f"500 writes -> {len(got)} batch(es)")  # 1 when idle; a few on a loaded machine
    assert len(got) <= 25


def test_missing_root_is_a_clear_error(backend: BuiltinBackend, tmp_path: Path) -> None:
    with pytest.raises(BackendError, match="no such folder"):
        backend.watch_roots([tmp_path / "absent"], timeout=TIMEOUT)
    assert backend.watched_roots() == frozenset()


def test_file_root_is_a_clear_error(backend: BuiltinBackend, root: Path) -> None:
    with pytest.raises(BackendError, match="not a folder"):
        backend.watch_roots([root / "pkg" / "mod.py"], timeout=TIMEOUT)


def test_removed_root_is_dropped(
    backend: BuiltinBackend, batches: Batches, root: Path, caplog: pytest.LogCaptureFixture
) -> None:
    backend.watch_roots([root], timeout=TIMEOUT)
    with caplog.at_level(logging.WARNING, logger="reloadd.daemon.builtin"):
        shutil.rmtree(root)
        batches.wait_for_all(root)
        _wait_until(lambda: backend.watched_roots() == frozenset(), "the root was dropped")
    assert "is gone" in caplog.text
    _wait_until(lambda: not _watcher_threads(), "the watcher thread ended")


def test_recreated_root_is_watched_again(
    make_backend: Callable[..., BuiltinBackend], batches: Batches, root: Path
) -> None:
    # Hold the watcher thread on the batch reporting the root's removal until the root
    # exists again, so that it sees a re-created root rather than a removed one.
    recreated = threading.Event()

    def sink(batch: ChangeBatch) -> None:
        if str(root) in batch.paths:
            recreated.wait(TIMEOUT)
        batches(batch)

    backend = make_backend(sink)
    backend.watch_roots([root], timeout=TIMEOUT)
    shutil.rmtree(root)
    (root / "pkg").mkdir(parents=True)
    module = root / "pkg" / "mod.py"
    module.write_text("recreated\n")
    recreated.set()
    *_, batch = batches.wait_for_all(rescan=root)  # after the batch reporting the removal
    assert batch.rescan_roots == {root}
    batches.collect_for(QUIET)
    assert backend.watched_roots() == {root}
    module.write_text("edited\n")
    batches.wait_for_all(module)


def test_a_root_given_a_clock_is_rescanned(
    backend: BuiltinBackend, batches: Batches, root: Path, tmp_path: Path
) -> None:
    other = tmp_path / "other"
    other.mkdir()
    assert backend.clocks() == {}
    backend.watch_roots([root, other], timeout=TIMEOUT, since={root: "c:123:4"})
    [batch] = batches.wait_for_all(rescan=root)
    assert batch == ChangeBatch(rescan_roots=frozenset({root}))
    assert batches.collect_for(QUIET) == []


def test_a_failing_sink_does_not_stop_the_watcher(
    make_backend: Callable[..., BuiltinBackend],
    batches: Batches,
    root: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    failed = threading.Event()

    def sink(batch: ChangeBatch) -> None:
        if not failed.is_set():
            failed.set()
            raise RuntimeError("sink broke")
        batches(batch)

    backend = make_backend(sink)
    backend.watch_roots([root], timeout=TIMEOUT)
    module = root / "pkg" / "mod.py"
    with caplog.at_level(logging.ERROR, logger="reloadd.daemon.builtin"):
        module.write_text("1\n")
        _wait_until(lambda: "sink broke" in caplog.text, "the sink's error was logged")
    module.write_text("2\n")
    batches.wait_for_all(module)


def test_close_ends_every_thread(
    make_backend: Callable[..., BuiltinBackend], tmp_path: Path
) -> None:
    before = set(threading.enumerate())
    backend = make_backend()
    roots = [tmp_path / name for name in ("a", "b", "c")]
    for folder in roots:
        folder.mkdir()
    backend.watch_roots(roots, timeout=TIMEOUT)
    assert len(set(threading.enumerate()) - before) == 1  # one reader for every root
    backend.close()
    assert set(threading.enumerate()) == before
    backend.close()  # idempotent
    assert backend.watched_roots() == frozenset()
    with pytest.raises(BackendError, match="closed"):
        backend.watch_roots(roots, timeout=TIMEOUT)


def test_every_root_shares_one_reader(
    backend: BuiltinBackend, batches: Batches, root: Path, tmp_path: Path
) -> None:
    # Each reader wakes every step while idle: the idle cost grows with their number.
    others = [tmp_path / f"other{i}" for i in range(3)]
    for folder in others:
        folder.mkdir()
    backend.watch_roots([root], timeout=TIMEOUT)
    for folder in others:
        backend.watch_roots([folder], timeout=TIMEOUT)
    assert backend.watched_roots() == {root, *others}
    _wait_until(lambda: len(_watcher_threads()) == 1, "the replaced readers' threads ended")
    edited = [root / "pkg" / "mod.py", *(folder / "new.py" for folder in others)]
    for path in edited:
        path.write_text("edited\n")
    batches.wait_for_all(*edited)


def test_changes_while_roots_are_added_are_all_reported(
    backend: BuiltinBackend, batches: Batches, root: Path, tmp_path: Path
) -> None:
    # Adding a root replaces the RustNotify: files written under the old roots meanwhile,
    # before, during and after the new one's set-up, must all be reported.
    for i in range(1000):  # a set-up that takes a while, for writes to fall into
        (root / "tree" / f"d{i}").mkdir(parents=True)
    backend.watch_roots([root], timeout=TIMEOUT)
    with files_written_meanwhile(root / "pkg") as written:
        for i in range(10):
            other = tmp_path / f"other{i}"
            other.mkdir()
            backend.watch_roots([other], timeout=TIMEOUT)
    print(f"{len(written)} files written while 10 roots were added")
    batches.wait_for_all(*written)


def test_changes_held_by_a_git_lock_survive_adding_a_root(
    backend: BuiltinBackend, batches: Batches, root: Path, tmp_path: Path
) -> None:
    (root / ".git").mkdir()
    lock = root / ".git" / "index.lock"
    backend.watch_roots([root], timeout=TIMEOUT)
    lock.write_text("")
    module = root / "pkg" / "mod.py"
    module.write_text("written during a checkout\n")
    assert batches.collect_for(QUIET) == [], "reported while git held its lock"
    other = tmp_path / "other"
    other.mkdir()
    backend.watch_roots([other], timeout=TIMEOUT)
    _wait_until(lambda: len(_watcher_threads()) == 1, "the replaced reader's thread ended")
    assert batches.collect_for(QUIET) == [], "reported while git held its lock"
    lock.unlink()
    [batch] = batches.wait_for_all(module)
    assert str(lock) in batch.paths


def test_a_removed_root_leaves_the_others_watched(
    backend: BuiltinBackend, batches: Batches, root: Path, tmp_path: Path
) -> None:
    other = tmp_path / "other"
    other.mkdir()
    backend.watch_roots([root, other], timeout=TIMEOUT)
    shutil.rmtree(other)
    _wait_until(lambda: backend.watched_roots() == {root}, "the removed root was dropped")
    module = root / "pkg" / "mod.py"
    module.write_text("edited\n")
    batches.wait_for_all(module)
    assert len(_watcher_threads()) == 1


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="counts inotify instances")
def test_replaced_notifiers_are_closed(
    make_backend: Callable[..., BuiltinBackend], tmp_path: Path
) -> None:
    before = _inotify_instances()
    backend = make_backend()
    for i in range(5):
        folder = tmp_path / f"root{i}"
        folder.mkdir()
        backend.watch_roots([folder], timeout=TIMEOUT)
    _wait_until(lambda: _inotify_instances() == before + 1, "one inotify instance left")
    backend.close()
    _wait_until(lambda: _inotify_instances() == before, "no inotify instance left")


def test_an_unexpected_error_watches_afresh(
    backend: BuiltinBackend,
    batches: Batches,
    root: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    settle = VcsHold.settle
    failed = threading.Event()

    def settle_once_failing(
        self: VcsHold, paths: Collection[str], roots: Collection[str]
    ) -> set[str]:
        if not failed.is_set():
            failed.set()
            raise RuntimeError("a bug")
        return settle(self, paths, roots)

    monkeypatch.setattr(VcsHold, "settle", settle_once_failing)
    backend.watch_roots([root], timeout=TIMEOUT)
    module = root / "pkg" / "mod.py"
    with caplog.at_level(logging.ERROR, logger="reloadd.daemon.builtin"):
        module.write_text("lost by the bug\n")
        batches.wait_for_all(rescan=root)
    assert "a bug" in caplog.text
    _wait_until(lambda: len(_watcher_threads()) == 1, "the failed reader's thread ended")
    module.write_text("seen again\n")
    batches.wait_for_all(module)


@pytest.mark.parametrize("backend_class", [InotifyBackend], ids=["inotify"])
def test_a_moved_folder_is_watched_under_its_new_name(
    backend: BuiltinBackend, batches: Batches, root: Path, tmp_path: Path
) -> None:
    (root / "pkg" / "sub").mkdir()
    backend.watch_roots([root], timeout=TIMEOUT)
    renamed = root / "renamed"
    os.rename(root / "pkg", renamed)
    got = batches.wait_for_all(root / "pkg", renamed / "mod.py", renamed / "sub")
    assert root / "pkg" in set().union(*(batch.rescan_roots for batch in got))
    batches.collect_for(QUIET)
    (renamed / "sub" / "deep.py").write_text("edited under the new name\n")
    [batch] = batches.wait_for_all(renamed / "sub" / "deep.py")
    assert not [path for path in batch.paths if path.startswith(f"{root / 'pkg'}{os.sep}")]
    outside = tmp_path / "outside"
    os.rename(renamed, outside)
    batches.wait_for_all(renamed)
    batches.collect_for(QUIET)
    (outside / "mod.py").write_text("edited outside every root\n")
    assert batches.collect_for(QUIET) == [], "a folder moved out of the root is still watched"


@pytest.mark.parametrize("backend_class", [InotifyBackend], ids=["inotify"])
def test_an_event_queue_overflow_is_a_rescan(
    make_backend: Callable[..., BuiltinBackend],
    batches: Batches,
    root: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    limit = int(Path("/proc/sys/fs/inotify/max_queued_events").read_text())
    if limit > 200_000:
        pytest.skip(f"fs.inotify.max_queued_events is {limit}: too many files to overflow it")
    in_sink, release = threading.Event(), threading.Event()

    def sink(batch: ChangeBatch) -> None:
        in_sink.set()
        release.wait(TIMEOUT)  # holds the reader, so that the kernel's queue fills up
        batches(batch)

    flood = root / "flood"
    flood.mkdir()
    backend = make_backend(sink)
    backend.watch_roots([root], timeout=TIMEOUT)
    (root / "first.py").write_text("")
    assert in_sink.wait(TIMEOUT), "the first change never reached the sink"
    with caplog.at_level(logging.WARNING, logger="reloadd.daemon.builtin"):
        for i in range(limit + 100):
            os.close(os.open(flood / f"f{i}", os.O_CREAT | os.O_WRONLY, 0o644))
        unseen = root / "made-during-the-overflow"
        unseen.mkdir()
        release.set()
        batches.wait_for_all(rescan=root)
    assert "overflowed" in caplog.text
    batches.collect_for(QUIET)
    (unseen / "mod.py").write_text("a folder made while events were lost is watched\n")
    batches.wait_for_all(unseen / "mod.py")
