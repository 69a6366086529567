"""The refresh script, a static file of this package (``reload.js``), and how it is served."""

from __future__ import annotations

import functools
from importlib import resources

SCRIPT_HEADERS = (
    ("Content-Type", "text/javascript; charset=utf-8"),
    ("Cache-Control", "no-cache"),
)
"""The headers the script is served with (revalidated at each page load: a new reloadd's
script is picked up)."""


@functools.lru_cache(maxsize=1)
def script() -> bytes:
    """The bytes of ``reload.js``."""
    return resources.files("reloadd.client.browser").joinpath("reload.js").read_bytes()
