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

MAX_OUTSIDE_ROOT_FOLDERS: Final = 1_000
"""Most folders a folder outside the project and the library folders may hold to be watched.

A file registered outside the project, the standard library and ``site-packages`` is
watched through its own folder, recursively; a bigger folder (``/``, a home folder) is
not watched, and the ``watching`` reply counts the file in ``unwatched``. The daemon reads
at most twice as many folders to size such folders for one request."""

MAX_CONNECTIONS: Final = 1_024
"""Most connections one daemon keeps open at once (fewer when its open-file limit is low:
at most half of it); beyond, it stops accepting until some close."""
