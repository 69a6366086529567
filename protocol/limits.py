"""The protocol's named limits; the decoder and the daemon enforce them and ``docs/protocol.md`` lists them.

The limits on one message (its size, strings, arrays, maps, nesting and numbers) hold
for every value in it, known field or not, and are checked by the one decoder on both
sides; :func:`reloadd.protocol.encode` refuses to produce a message the other side
would refuse. The others (per client, per daemon) are the daemon's.
"""

from __future__ import annotations

import sys
from typing import Final

MAX_MESSAGE_BYTES: Final = 8 * 1024 * 1024
"""Largest encoded message either side accepts (8 MiB)."""

MAX_PATHS_PER_MESSAGE: Final = 50_000
"""Most items in one array of a message (the paths of a ``watch``, ``unwatch`` or ``saved``,
or any other array); clients send more paths in batches."""

MAX_MAP_ITEMS: Final = 256
"""Most entries in one map of a message: the message itself, a ``status_reply`` client, or
a map in a field the reader does not know."""

MAX_NESTING_DEPTH: Final = 16
"""Most levels of arrays and maps, one inside the other, in a message; the message map itself
is level 1 (a ``watch``'s globs reach level 3)."""

MAX_FILES_PER_CLIENT: Final = 200_000
"""Most files one client may have registered at once."""

MAX_GLOBS_PER_CLIENT: Final = 1_000
"""Most directory globs one client may have registered at once."""

MAX_CLIENTS: Final = 256
"""Most clients one daemon serves at once."""

MAX_PATH_LENGTH: Final = 4096
"""Longest string anywhere in a message, in characters (Linux's PATH_MAX)."""

MAX_NAME_LENGTH: Final = 256
"""Longest client name, pattern or other short string."""

MAX_CHANGED_PATHS: Final = 10_000
"""Most paths one ``changed`` notification lists; beyond, ``truncated`` is set."""

MAX_EVENT_PATHS: Final = 256
"""Most paths one ``event`` lists (events are for people and editors, not for reloading); the
rest are counted in its ``omitted``."""

MAX_RELOAD_PATHS: Final = 20
"""Most changed paths the daemon keeps per client for its last reload (``status``); the rest
are counted in ``omitted``."""

MAX_QUEUED_EVENTS_PER_SUBSCRIBER: Final = 256
"""Most events the daemon sends a subscriber that has not acknowledged them (``events_read``);
beyond, events for it are dropped and counted, and it gets one ``events-dropped`` when it
catches up. Well under the socket's own limit of 1,000 queued messages per connection."""

MAX_QUEUED_EVENT_BYTES_PER_SUBSCRIBER: Final = 4 * 1024 * 1024
"""Most bytes of events the daemon sends a subscriber that has not acknowledged them (4 MiB);
beyond, events are dropped and counted as for ``MAX_QUEUED_EVENTS_PER_SUBSCRIBER``."""

MAX_REQUEST_ID: Final = 2**53 - 1
"""Largest request ``id`` (and ``re``); ids are 0 or more. 2**53 - 1 is the largest integer a
float64 holds exactly, so a peer written in any language (JavaScript included) reads it."""

MAX_COUNT: Final = 2**53 - 1
"""Largest count a reply carries (files, globs, clients notified, paths recorded); counts are
0 or more."""

MAX_PROTOCOL_VERSION: Final = 65_535
"""Largest ``protocol`` number a message may carry; versions start at 1. A peer that sends
another version within 1 to this limit is answered ``version_mismatch``."""

MAX_PID: Final = 2**22 if sys.platform.startswith("linux") else 2**31 - 1
"""Largest process id a message may carry; pids are 1 or more. On Linux 2**22 (4194304), the
ceiling of ``/proc/sys/kernel/pid_max``; elsewhere 2**31 - 1, the largest a C ``pid_t`` holds,
so ``os.kill(pid, 0)`` never overflows."""

MAX_TIMESTAMP: Final = 253_402_300_799.0
"""Latest Unix time a message may carry (9999-12-31 23:59:59 UTC, the last second
``datetime`` represents); times are finite and 0 or later."""

MIN_HEARTBEAT: Final = 0.01
"""Shortest ``heartbeat`` a ``welcome`` may give, in seconds."""

MAX_HEARTBEAT: Final = 3600.0
"""Longest ``heartbeat`` a ``welcome`` may give, in seconds."""

MAX_OUTSIDE_ROOT_FOLDERS: Final = 1_000
"""Most folders a folder outside the project and the library folders may hold to be watched.

A file registered outside the project, the standard library and ``site-packages`` is
watched through its own folder, recursively; a bigger folder (``/``, a home folder) is
not watched, and the ``watching`` reply counts the file in ``unwatched``. The daemon reads
at most twice as many folders to size such folders for one request."""

MAX_CONNECTIONS: Final = 1_024
"""Most connections one daemon keeps open at once (fewer when its open-file limit is low:
at most half of it); beyond, it stops accepting until some close."""

MAX_SOCKET_PATH_BYTES: Final = 107
"""Longest socket path ``bind``/``connect`` take on Linux (``sun_path`` holds 108 bytes with its
NUL; macOS and the BSDs take 103): a platform limit, checked before the daemon binds; a longer
runtime folder falls back to ``$TMPDIR/reloadd-<uid>``."""

MAX_FILES_TOTAL: Final = 1_000_000
"""Most file registrations one daemon holds across all its clients (each client's files
counted, departed clients kept for their grace period included)."""

MAX_QUEUED_BYTES_PER_CLIENT: Final = 16 * 1024 * 1024
"""Most bytes the daemon sends a client between two messages from it (16 MiB); past it,
further changes are held back (coalesced into one set) until the client is heard from."""

MAX_SINCE_SCAN_ENTRIES: Final = 50_000
"""Most folder entries the daemon walks to answer one ``watch``'s ``since`` for its globs
(globs under folders it began watching only after ``since``); matches beyond are not
reported, and the daemon logs that it stopped."""
