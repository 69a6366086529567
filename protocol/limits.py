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

MAX_FILES_TOTAL: Final = 1_000_000
"""Most file registrations one daemon holds across all its clients (each client's files
counted, departed clients kept for their grace period included)."""

MAX_QUEUED_BYTES_PER_CLIENT: Final = 16 * 1024 * 1024
"""Most bytes the daemon sends a client between two messages from it (16 MiB); past it,
further changes are held back (coalesced into one set) until the client is heard from."""
