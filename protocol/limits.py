"""The protocol's named limits; the daemon enforces them and ``docs/protocol.md`` lists them."""

from __future__ import annotations

from typing import Final

MAX_MESSAGE_BYTES: Final = 8 * 1024 * 1024
"""Largest encoded message either side accepts (8 MiB)."""

MAX_PATHS_PER_MESSAGE: Final = 50_000
"""Most paths one ``watch``/``unwatch``/``saved`` message may carry; clients send more in batches."""

MAX_FILES_PER_CLIENT: Final = 200_000
"""Most files one client may have registered at once."""

MAX_GLOBS_PER_CLIENT: Final = 1_000
"""Most directory globs one client may have registered at once."""

MAX_CLIENTS: Final = 256
"""Most clients one daemon serves at once."""

MAX_PATH_LENGTH: Final = 4096
"""Longest path, in characters (Linux's PATH_MAX)."""

MAX_NAME_LENGTH: Final = 256
"""Longest client name, pattern or other short string."""

MAX_CHANGED_PATHS: Final = 10_000
"""Most paths one ``changed`` notification lists; beyond, ``truncated`` is set."""

MAX_SINCE_SCAN_ENTRIES: Final = 50_000
"""Most folder entries the daemon walks to answer one ``watch``'s ``since`` for its globs
(globs under folders it began watching only after ``since``); matches beyond are not
reported, and the daemon logs that it stopped."""
