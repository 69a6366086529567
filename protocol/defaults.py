"""The daemon's defaults that its clients and its command line also state: one place for each.

The daemon applies them; ``reloadd serve --help`` shows them; a client falls back
on them before a ``welcome`` has told it otherwise. (The client and the daemon may
not import each other; both import this.) Limits, which bound what a peer may send,
are in :mod:`reloadd.protocol.limits`.
"""

from __future__ import annotations

from typing import Final

DEFAULT_GRACE: Final = 5.0
"""Seconds a departed client's registration is kept, so a restarting dev server finds it again
(``reloadd serve --grace``)."""

DEFAULT_HEARTBEAT: Final = 2.0
"""Seconds between a client's pings, as the daemon asks in ``welcome``."""

DEFAULT_LOG_LEVEL: Final = "INFO"
"""The daemon's log level (``reloadd serve --log-level``)."""

NETWORK_HEARTBEAT: Final = 1.0
"""Seconds between the ZMTP heartbeats both ends of a ``tcp://`` connection send."""

NETWORK_TIMEOUT: Final = 3.0
"""Seconds without a byte from the other end after which either end of a ``tcp://``
connection drops it (a cable pulled, a VM paused): the client reconnects or falls back."""
