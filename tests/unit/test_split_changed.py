"""Splitting a ``changed`` notification into parts that each fit in one message."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reloadd.protocol import Changed, decode, encode
from reloadd.protocol.limits import MAX_MESSAGE_BYTES
from reloadd.protocol.split import packed_str_bytes, split_changed


def test_a_small_notification_is_one_message() -> None:
    (only,) = split_changed(["/a.py", "/b.py"], at=5.0)
    assert only == Changed(paths=("/a.py", "/b.py"), at=5.0, more=False)


def test_no_paths_give_one_empty_message() -> None:
    assert split_changed([], at=1.0, truncated=True) == [Changed(paths=(), truncated=True, at=1.0)]


def test_the_issue_case_fits_in_parts_of_the_real_limit() -> None:
    # 2,400 changed files with 3,700-character paths: 8.9 MB, over the 8 MiB limit.
    paths = [f"/p/{i:05d}" + "x" * (3700 - 9) for i in range(2400)]
    parts = split_changed(paths, at=2.0, truncated=False)
    assert len(parts) == 2
    encoded = [encode(part) for part in parts]  # encode() raises if one were too large
    assert all(len(data) <= MAX_MESSAGE_BYTES for data in encoded)
    assert [part.more for part in parts] == [True, False]
    assert [path for data in encoded for path in decode(data).paths] == paths  # type: ignore[attr-defined]


def test_a_path_that_cannot_fit_is_refused() -> None:
    with pytest.raises(ValueError, match="cannot fit"):
        split_changed(["/" + "x" * 300], at=0.0, max_bytes=200)


@pytest.mark.parametrize("text", ["", "a" * 31, "a" * 32, "é" * 200, "a" * 65535, "a" * 65536])
def test_packed_size_is_msgpack_size(text: str) -> None:
    import msgpack

    assert packed_str_bytes(text) == len(msgpack.packb(text))


@settings(max_examples=200, deadline=None)
@given(
    paths=st.lists(st.text(min_size=1, max_size=300).map(lambda t: "/" + t), max_size=60),
    max_bytes=st.integers(min_value=600, max_value=5000),
    truncated=st.booleans(),
)
def test_parts_keep_every_path_in_order_within_the_limit(
    paths: list[str], max_bytes: int, truncated: bool
) -> None:
    try:
        parts = split_changed(paths, at=3.0, truncated=truncated, max_bytes=max_bytes)
    except ValueError:
        assert any(packed_str_bytes(p) > max_bytes - 133 for p in paths)  # 128 + array header
        return
    assert [p for part in parts for p in part.paths] == paths
    assert [part.more for part in parts] == [True] * (len(parts) - 1) + [False]
    assert all(part.truncated == truncated and part.at == 3.0 for part in parts)
    for part in parts:
        assert len(encode(part)) <= max_bytes
