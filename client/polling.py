"""The in-process fallback: stat the registered files and globs, as Django's StatReloader does.

Used only while the daemon cannot be reached, so that the dev server keeps reloading.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
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
    """Finds changed files by comparing ``stat`` results between scans.

    ``view`` turns a registered path into the one to stat and report (a remote client's
    daemon paths into its own, :mod:`reloadd.client.remote`); by default each is itself.
    """

    def __init__(
        self,
        files: Iterable[str],
        globs: Iterable[GlobSpec],
        since: float,
        view: Callable[[str], str] | None = None,
    ) -> None:
        self.files = set(files)
        self.globs = set(globs)
        self._since = since
        self._view = view or str
        self._states: dict[str, FileState] | None = None

    @property
    def states(self) -> dict[str, FileState]:
        """Each path's state at the last scan (as seen, in the ``view``'s spelling)."""
        return dict(self._states or {})

    def add(self, files: Iterable[str], globs: Iterable[GlobSpec], since: float) -> None:
        """Watch more: of the paths new to this watcher, those written after ``since`` (if
        given) are reported at the next scan, the others only once they change."""
        files, globs = set(files), set(globs)
        if self._states is not None:
            new = self._matches(files, globs) - self._states.keys()
            for path in new:
                state = stat_state(path)
                self._states[path] = None if since and touched_after(state, since) else state
        self.files.update(files)
        self.globs.update(globs)

    def _paths(self) -> set[str]:
        return self._matches(self.files, self.globs)

    def _matches(self, files: Iterable[str], globs: Iterable[GlobSpec]) -> set[str]:
        view = self._view
        paths = {view(path) for path in files}
        for glob in globs:
            try:
                found = Path(view(glob.directory)).glob(glob.pattern)
                paths.update(str(p) for p in found if p.is_file())
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
