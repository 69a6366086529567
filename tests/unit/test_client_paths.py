"""The client's path normalising: skipping names that are already normal agrees with ``abspath``."""

from __future__ import annotations

import os

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reloadd.client.connection import _absolute

_PARTS = st.sampled_from(["a", "b.py", ".", "..", "", "x\0y", "/", "é"])
_NAMES = st.builds(
    lambda absolute, parts: ("/" if absolute else "") + "/".join(parts),
    st.booleans(),
    st.lists(_PARTS, max_size=5),
)


@given(st.lists(_NAMES, max_size=6))
def test_same_result_as_abspath_for_any_names(names: list[str]) -> None:
    assert _absolute(names) == [os.path.abspath(name) for name in names]


@pytest.mark.parametrize(
    "name", ["/a/", "/a/.", "/a/..", "/a//b", "/a/./b", "/a/../b", "a/b", "/", "//a"]
)
def test_a_name_that_is_not_normal_is_normalised_among_normal_ones(name: str) -> None:
    names = ["/srv/app/one.py", name, "/srv/app/two.py"]
    assert _absolute(names) == ["/srv/app/one.py", os.path.abspath(name), "/srv/app/two.py"]
