"""The change log keeps each changed path once, with the last time it was seen."""

from __future__ import annotations

import tracemalloc

from reloadd.daemon.change_log import ChangeLog


def test_a_path_changed_again_is_kept_once_with_its_last_time() -> None:
    log = ChangeLog()
    log.record(["/p/a.py", "/p/b.py"], 10.0)
    log.record(["/p/a.py"], 20.0)
    assert log.changed_since(5.0) == {"/p/a.py": 20.0, "/p/b.py": 10.0}
    assert log.changed_since(15.0) == {"/p/a.py": 20.0}
    assert log.seen_since("/p/a.py", 20.0)
    assert not log.seen_since("/p/b.py", 10.5)
    assert log.oldest() == 10.0


def test_a_file_saved_over_and_over_does_not_push_other_changes_out() -> None:
    log = ChangeLog(max_paths=3)
    log.record(["/p/a.py", "/p/b.py", "/p/c.py"], 1.0)
    for second in range(2, 12):
        log.record(["/p/a.py"], float(second))
    assert set(log.changed_since(0.0)) == {"/p/a.py", "/p/b.py", "/p/c.py"}
    log.record(["/p/d.py"], 12.0)  # over the cap: the path seen longest ago goes
    assert set(log.changed_since(0.0)) == {"/p/a.py", "/p/c.py", "/p/d.py"}


def test_changes_are_forgotten_after_keep_seconds() -> None:
    log = ChangeLog(keep_seconds=60.0)
    log.record(["/p/a.py", "/p/b.py"], 100.0)
    log.record(["/p/b.py"], 150.0)
    log.record(["/p/c.py"], 170.0)
    assert set(log.changed_since(0.0)) == {"/p/b.py", "/p/c.py"}


def test_bursts_rewriting_the_same_files_take_the_memory_of_one() -> None:
    # The slow-client scenario: an editor reports the same 2,000 files 40 times.
    paths = [f"/project/deep/{i:06d}.py" for i in range(2000)]
    tracemalloc.start()
    try:
        once = ChangeLog()
        start = tracemalloc.get_traced_memory()[0]
        once.record(paths, 1.0)
        one_burst = tracemalloc.get_traced_memory()[0] - start
        log = ChangeLog()
        start = tracemalloc.get_traced_memory()[0]
        for round_ in range(40):
            log.record(paths, 2.0 + round_)
        forty_bursts = tracemalloc.get_traced_memory()[0] - start
    finally:
        tracemalloc.stop()
    assert forty_bursts < 2 * one_burst, f"{forty_bursts} bytes for 40 bursts, {one_burst} for one"
    assert len(log) == len(paths)
