"""Bad-input log lines, rate-limited per source and overall, saying how many were left out."""

from __future__ import annotations

import logging
import time

import pytest

from reloadd.daemon.log_limit import LimitedLog

LOGGER = logging.getLogger("reloadd.test.log_limit")


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """A monotonic clock the test moves by hand."""
    now = [1000.0]
    monkeypatch.setattr(time, "monotonic", lambda: now[0])
    return now


def test_a_source_gets_its_quota_then_a_count_of_what_was_left_out(
    clock: list[float], caplog: pytest.LogCaptureFixture
) -> None:
    limited = LimitedLog(LOGGER, lines=3, lines_in_all=100, window=10.0)
    with caplog.at_level(logging.WARNING, logger=LOGGER.name):
        logged = [limited.warning("a", "bad frame %d", n) for n in range(10)]
        assert logged == [True] * 3 + [False] * 7
        clock[0] += 10.0
        assert limited.warning("a", "bad frame %d", 10)
    assert [r.getMessage() for r in caplog.records] == [
        "bad frame 0",
        "bad frame 1",
        "bad frame 2",
        "bad frame 10 (7 similar lines from the same source left out)",
    ]


def test_sources_have_their_own_quota_within_an_overall_one(clock: list[float]) -> None:
    limited = LimitedLog(LOGGER, lines=2, lines_in_all=5, window=10.0)
    assert [limited.warning(source, "x") for source in "aab"] == [True, True, True]
    assert not limited.warning("a", "x")
    assert [limited.warning(source, "x") for source in "cde"] == [True, True, False]


def test_sources_remembered_are_bounded(clock: list[float]) -> None:
    limited = LimitedLog(LOGGER, lines=1, lines_in_all=10_000, window=10.0, max_sources=10)
    for source in range(1000):
        limited.warning(source, "x")
    assert len(limited._sources) == 10
