"""``RELOADD_PATH_MAP``: parsing, and paths both ways through the longest mapping."""

from __future__ import annotations

import pytest

from reloadd.client.path_map import PathMap
from reloadd.protocol import EndpointError
from reloadd.protocol.limits import MAX_PATH_MAPS


def test_paths_map_through_the_longest_folder_and_back() -> None:
    paths = PathMap.parse("/app=/home/me/proj, /app/vendor=/home/me/vendor,/lib/=/srv/lib")
    assert paths.to_host("/app/views.py") == "/home/me/proj/views.py"
    assert paths.to_host("/app/vendor/x.py") == "/home/me/vendor/x.py"
    assert paths.to_host("/app") == "/home/me/proj"
    assert paths.to_host("/lib/a.py") == "/srv/lib/a.py"
    assert paths.to_client("/home/me/proj/views.py") == "/app/views.py"
    assert paths.to_client("/home/me/vendor/x.py") == "/app/vendor/x.py"


def test_only_whole_folder_names_match() -> None:
    paths = PathMap.parse("/app=/home/me/proj")
    assert paths.to_host("/application/x.py") is None
    assert paths.to_host("/usr/lib/python3/os.py") is None
    assert paths.to_client("/home/me/project2/x.py") == "/home/me/project2/x.py"


def test_the_root_folder_maps_everything() -> None:
    paths = PathMap.parse("/=/mnt/guest")
    assert paths.to_host("/etc/x") == "/mnt/guest/etc/x"
    assert paths.to_client("/mnt/guest/etc/x") == "/etc/x"


@pytest.mark.parametrize("text", ["/app", "app=/x", "/app=x", "", "/a=/b,,"])
def test_a_malformed_map_says_how_to_write_it(text: str) -> None:
    with pytest.raises(EndpointError, match="CLIENT=HOST"):
        PathMap.parse(text)


def test_too_many_pairs_are_refused() -> None:
    text = ",".join(f"/a{i}=/b{i}" for i in range(MAX_PATH_MAPS + 1))
    with pytest.raises(EndpointError, match=f"at most {MAX_PATH_MAPS}"):
        PathMap.parse(text)
