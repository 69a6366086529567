"""Log lines about bad input, rate-limited per client, saying how many were left out.

A hostile or broken client can send thousands of bad frames a second; logging
each one grew the log by 12.6 MB per 100,000 frames. Each source (a client's
routing id, or one kind of internal failure) gets a few lines per window; the
next line logged for it says how many were dropped meanwhile.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Hashable

LINES_PER_WINDOW = 5
"""Lines logged per source in one window."""

WINDOW = 10.0
"""Seconds of one window."""

LINES_PER_WINDOW_IN_ALL = 50
"""Lines logged in one window across all sources (many connections, each within its quota)."""

MAX_SOURCES = 1024
"""Sources remembered at once (the least recently heard are forgotten first)."""


class LimitedLog:
    """A logger wrapper that lets through :data:`LINES_PER_WINDOW` lines per source per window."""

    def __init__(
        self,
        logger: logging.Logger,
        *,
        lines: int = LINES_PER_WINDOW,
        lines_in_all: int = LINES_PER_WINDOW_IN_ALL,
        window: float = WINDOW,
        max_sources: int = MAX_SOURCES,
    ) -> None:
        self._log = logger
        self._lines = lines
        self._lines_in_all = lines_in_all
        self._all = [0.0, 0]
        """[window start (monotonic), lines logged in it] across all sources."""
        self._window = window
        self._max_sources = max_sources
        self._sources: OrderedDict[Hashable, list[float]] = OrderedDict()
        """Source → [window start (monotonic), lines logged in it, lines dropped since the last]."""

    def log(
        self, level: int, source: Hashable, message: str, *args: object, exc_info: bool = False
    ) -> bool:
        """Log ``message % args`` for ``source`` unless its quota is spent; True if logged."""
        now = time.monotonic()
        entry = self._sources.pop(source, None)
        if entry is None or now - entry[0] >= self._window:
            dropped = entry[2] if entry is not None else 0
            entry = [now, 0.0, dropped]
        self._sources[source] = entry
        while len(self._sources) > self._max_sources:
            self._sources.popitem(last=False)
        if now - self._all[0] >= self._window:
            self._all = [now, 0]
        if entry[1] >= self._lines or self._all[1] >= self._lines_in_all:
            entry[2] += 1
            return False
        entry[1] += 1
        self._all[1] += 1
        if entry[2]:
            message += " (%d similar lines from the same source left out)"
            args = (*args, int(entry[2]))
            entry[2] = 0
        self._log.log(level, message, *args, exc_info=exc_info)
        return True

    def warning(self, source: Hashable, message: str, *args: object) -> bool:
        """:meth:`log` at WARNING."""
        return self.log(logging.WARNING, source, message, *args)

    def exception(self, source: Hashable, message: str, *args: object) -> bool:
        """:meth:`log` at ERROR with the current exception's traceback."""
        return self.log(logging.ERROR, source, message, *args, exc_info=True)
