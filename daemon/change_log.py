"""What changed recently under the watched roots, and when the daemon saw it.

A dev server that registers after a restart asks for the changes made since
its process started (or since it last heard from the daemon); this log answers
for every root that was watched all along.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable

KEEP_SECONDS = 600.0
"""How long a change is remembered."""

MAX_PATHS = 500_000
"""Most paths remembered at once; the oldest batches are forgotten first."""


class ChangeLog:
    """Batches of changed real paths with the (Unix) time they were seen, oldest first."""

    def __init__(self, keep_seconds: float = KEEP_SECONDS, max_paths: int = MAX_PATHS) -> None:
        self._batches: deque[tuple[float, frozenset[str]]] = deque()
        self._paths = 0
        self._keep = keep_seconds
        self._max = max_paths

    def record(self, paths: Iterable[str], at: float) -> None:
        """Remember that ``paths`` changed at time ``at``."""
        batch = frozenset(paths)
        if not batch:
            return
        self._batches.append((at, batch))
        self._paths += len(batch)
        while self._batches and (self._paths > self._max or self._batches[0][0] < at - self._keep):
            _, dropped = self._batches.popleft()
            self._paths -= len(dropped)

    def oldest(self) -> float | None:
        """The time of the oldest change still remembered."""
        return self._batches[0][0] if self._batches else None

    def seen_since(self, path: str, since: float) -> bool:
        """Whether ``path`` was seen changing at or after ``since`` (newest batches first)."""
        for at, batch in reversed(self._batches):
            if at < since:
                return False
            if path in batch:
                return True
        return False

    def changed_since(self, since: float) -> dict[str, float]:
        """Every path seen changing after ``since``, with the last time it was seen."""
        found: dict[str, float] = {}
        for at, batch in reversed(self._batches):
            if at <= since:
                break
            for path in batch:
                found.setdefault(path, at)
        return found
