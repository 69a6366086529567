"""The size and mtime of every registered file, to tell real changes from rescans.

(What a file's state is, and when it counts as written after a moment, is
:mod:`reloadd.protocol.file_state`, shared with the client's polling fallback.)

After Watchman restarts or recrawls, or a watcher fails, a backend can only say
"anything under this root may have changed". Comparing what ``stat`` says now
with what it said before turns that into the few files that really changed.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from reloadd.daemon.backends.nesting import folder_prefixes
from reloadd.protocol.file_state import FileState, stat_state


class FileStates:
    """The last known state of each tracked real path."""

    def __init__(self) -> None:
        self._states: dict[str, FileState] = {}

    def __len__(self) -> int:
        return len(self._states)

    def __contains__(self, path: object) -> bool:
        return path in self._states

    def get(self, path: str) -> FileState:
        """The last known state of a tracked path (None if missing or not tracked)."""
        return self._states.get(path)

    def track(self, paths: Iterable[str]) -> dict[str, FileState]:
        """Start tracking paths not tracked yet; return the states of those new ones."""
        new: dict[str, FileState] = {}
        for path in paths:
            if path not in self._states:
                new[path] = self._states[path] = stat_state(path)
        return new

    def untrack(self, paths: Iterable[str]) -> None:
        """Stop tracking paths."""
        for path in paths:
            self._states.pop(path, None)

    def refresh(self, paths: Iterable[str]) -> set[str]:
        """Re-stat tracked paths among ``paths``; return those whose state differs."""
        changed: set[str] = set()
        for path in paths:
            if path in self._states:
                state = stat_state(path)
                if state != self._states[path]:
                    self._states[path] = state
                    changed.add(path)
        return changed

    def paths(self) -> list[str]:
        """Every tracked path."""
        return list(self._states)

    def under(self, roots: Iterable[Path]) -> list[str]:
        """The tracked paths below any of ``roots``."""
        prefixes = folder_prefixes(roots)
        return [path for path in self._states if path.startswith(prefixes)]
