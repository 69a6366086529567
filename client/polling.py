"""The in-process fallback: stat the registered files and globs, as Django's StatReloader does.

Used only while the daemon cannot be reached, so that the dev server keeps reloading.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from reloadd.protocol import GlobSpec
from reloadd.protocol.file_state import FileState, stat_state, touched_after

POLL_INTERVAL = 1.0
"""Seconds between two scans."""

CLOCK_MARGIN = 0.01
"""Seconds of slack when a file's :func:`written_at` is compared with ``time.time()``: the
kernel stamps files with a clock that lags by up to one tick (10 ms at 100 Hz)."""


def written_at(path: str) -> float:
    """When a file was last written or had its metadata changed; +inf if it is gone (a change).

    What a restarting dev server compares with its start time: a file written before
    it started was read by it as it is now.
    """
    try:
        info = os.stat(path)
    except OSError:
        return float("inf")
    return max(info.st_mtime, info.st_ctime)


class PollingWatcher:
    """Finds changed files by comparing ``stat`` results between scans."""

    def __init__(self, files: Iterable[str], globs: Iterable[GlobSpec], since: float) -> None:
        self.files = set(files)
        self.globs = set(globs)
        self._since = since
        self._states: dict[str, FileState] | None = None

    def _paths(self) -> set[str]:
        paths = set(self.files)
        for glob in self.globs:
            try:
                paths.update(str(p) for p in Path(glob.directory).glob(glob.pattern) if p.is_file())
            except (OSError, ValueError):
                continue
        return paths

    def poll(self) -> list[str]:
        """Scan once; return the paths changed since the last scan (or since ``since``, at first)."""
        states = {path: stat_state(path) for path in self._paths()}
        if self._states is None:
            changed = [path for path, state in states.items() if touched_after(state, self._since)]
        else:
            old = self._states
            changed = [
                path for path in states.keys() | old.keys() if states.get(path) != old.get(path)
            ]
        self._states = states
        return sorted(changed)
