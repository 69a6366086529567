"""The built-in backend (watchfiles' RustNotify) against real files in ``tmp_path``."""

from __future__ import annotations

import logging
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from reloadd.daemon.backends.base import ChangeBatch
from reloadd.daemon.backends.builtin import BuiltinBackend
from reloadd.protocol.errors import BackendError
from tests.integration.batches import TIMEOUT, Batches

QUIET = 0.3
"""Seconds to wait to be sure no further batch comes (60 steps of the watcher)."""


@pytest.fixture
def make_backend(batches: Batches) -> Iterator[Callable[..., BuiltinBackend]]:
    made: list[BuiltinBackend] = []

    def make(sink: Callable[[ChangeBatch], None] = batches) -> BuiltinBackend:
        backend = BuiltinBackend(sink)
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
