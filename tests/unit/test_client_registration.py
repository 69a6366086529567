"""What a client registers: normalising that agrees with ``abspath``, batches under the limits."""

from __future__ import annotations

import os

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reloadd.client.registration import BATCH_BYTES, absolute, batches
from reloadd.protocol import GlobSpec
from reloadd.protocol.limits import MAX_PATHS_PER_MESSAGE

_PARTS = st.sampled_from(["a", "b.py", ".", "..", "", "x\0y", "/", "é"])
_NAMES = st.builds(
    lambda absolute, parts: ("/" if absolute else "") + "/".join(parts),
    st.booleans(),
    st.lists(_PARTS, max_size=5),
)


@given(st.lists(_NAMES, max_size=6))
def test_same_result_as_abspath_for_any_names(names: list[str]) -> None:
    assert absolute(names) == [os.path.abspath(name) for name in names]


@pytest.mark.parametrize(
    "name", ["/a/", "/a/.", "/a/..", "/a//b", "/a/./b", "/a/../b", "a/b", "/", "//a"]
)
def test_a_name_that_is_not_normal_is_normalised_among_normal_ones(name: str) -> None:
    names = ["/srv/app/one.py", name, "/srv/app/two.py"]
    assert absolute(names) == ["/srv/app/one.py", os.path.abspath(name), "/srv/app/two.py"]


def test_batches_stay_under_the_count_and_size_limits_with_globs_first() -> None:
    long_names = [f"/srv/{'x' * 200}/{i}.py" for i in range(BATCH_BYTES // 100)]
    many_names = [f"/srv/{i}.py" for i in range(MAX_PATHS_PER_MESSAGE + 1)]
    glob = GlobSpec("/srv/templates", "**/*.html")
    for names in (long_names, many_names):
        found = batches(names, [glob])
        assert len(found) >= 2
        assert [list(globs) for _, globs in found] == [[glob]] + [[]] * (len(found) - 1)
        assert [name for files, _ in found for name in files] == names
        assert all(len(files) <= MAX_PATHS_PER_MESSAGE for files, _ in found)
        assert all(sum(map(len, files)) <= BATCH_BYTES for files, _ in found)


def test_no_files_and_no_globs_is_no_batch() -> None:
    assert batches([], []) == []
    assert batches([], [GlobSpec("/srv", "*.py")]) == [((), (GlobSpec("/srv", "*.py"),))]
