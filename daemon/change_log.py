"""What changed recently under the watched roots, and when the daemon saw it.

A dev server that registers after a restart asks for the changes made since
its process started (or since it last heard from the daemon); this log answers
for every root that was watched all along.

Each path is kept once, with the last time it was seen: only that time answers
both questions asked of the log. A file saved 40 times costs one entry, not 40
(2,000 long paths rewritten 40 times kept 40 copies of their index, 4 MB, for
``KEEP_SECONDS``), and does not push other files' changes out of ``MAX_PATHS``.
"""

from __future__ import annotations

from collections.abc import Iterable

KEEP_SECONDS = 600.0
"""How long a change is remembered."""

MAX_PATHS = 500_000
"""Most paths remembered at once; those seen longest ago are forgotten first."""


class ChangeLog:
    """Changed real paths with the (Unix) time each was last seen, least recently seen first."""

    def __init__(self, keep_seconds: float = KEEP_SECONDS, max_paths: int = MAX_PATHS) -> None:
        self._seen: dict[str, float] = {}
        """Path → the last time it was seen; insertion order is the order last seen (a plain
        dict: about 30 bytes a path, where an ``OrderedDict`` takes 80)."""
        self._keep = keep_seconds
        self._max = max_paths

    def __len__(self) -> int:
        return len(self._seen)

    def record(self, paths: Iterable[str], at: float) -> None:
        """Remember that ``paths`` changed at time ``at``."""
        seen = self._seen
        for path in paths:
            seen.pop(path, None)  # seen again: it moves to the end
            seen[path] = at
        # One scan from the front per call (not one per path dropped: a dict skips the
        # slots of deleted entries on every new iteration).
        excess = len(seen) - self._max
        expired = at - self._keep
        dropped: list[str] = []
        for path, when in seen.items():
            if len(dropped) >= excess and when >= expired:
                break
            dropped.append(path)
        for path in dropped:
            del seen[path]

    def oldest(self) -> float | None:
        """The time of the oldest change still remembered."""
        return next(iter(self._seen.values())) if self._seen else None

    def newest(self) -> float | None:
        """The time of the latest change remembered."""
        return next(reversed(self._seen.values())) if self._seen else None

    def seen_since(self, path: str, since: float) -> bool:
        """Whether ``path`` was seen changing at or after ``since``."""
        last = self._seen.get(path)
        return last is not None and last >= since

    def changed_since(self, since: float) -> dict[str, float]:
        """Every path seen changing after ``since``, with the last time it was seen."""
        found: dict[str, float] = {}
        for path, at in reversed(self._seen.items()):
            if at <= since:
                break
            found[path] = at
        return found
