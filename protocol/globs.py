"""Directory globs with the semantics of ``pathlib.Path.glob`` (what Django's ``watch_dir`` uses).

A glob is a directory plus a relative pattern. Components are matched one at a
time with :func:`fnmatch.fnmatchcase` (so ``*`` never crosses a ``/`` and does
match names starting with a dot, as in ``pathlib``); a ``**`` component matches
zero or more directories. A trailing ``**`` matches everything below the
directory (``Path.glob`` yields those directories; a change inside one of them
is a change to it).
"""

from __future__ import annotations

import re
from fnmatch import translate
from functools import lru_cache

from reloadd.protocol.errors import ErrorCode, ProtocolError, quote


class GlobPattern:
    """A compiled relative glob pattern such as ``**/*.html``."""

    __slots__ = ("_parts", "pattern")

    def __init__(self, pattern: str) -> None:
        parts = [part for part in pattern.split("/") if part not in ("", ".")]
        if not parts or pattern.startswith("/"):
            raise ProtocolError(
                f"a glob pattern must be a non-empty relative pattern, got {quote(pattern)}",
                code=ErrorCode.BAD_FIELD,
            )
        self.pattern = pattern
        # "**/**" is "**": collapsing them keeps a hostile "**/**/…" pattern short.
        parts = [p for i, p in enumerate(parts) if not (p == "**" and i and parts[i - 1] == "**")]
        self._parts: tuple[re.Pattern[str] | None, ...] = tuple(
            None if part == "**" else re.compile(translate(part)) for part in parts
        )

    def matches(self, relative_parts: tuple[str, ...]) -> bool:
        """Whether a path, given as its components relative to the glob's directory, matches."""
        states = self.start()
        for name in relative_parts:
            states = self.step(states, name)
            if not states:
                return False
        return self.accepts(states)

    # A set of pattern positions stepped over the path, one component at a time:
    # O(pattern * path) whatever the pattern, where backtracking over several "**"
    # is exponential (a hostile glob would freeze the daemon) and recurses. A walk
    # of the glob's folder keeps each folder's set and steps it once per entry.

    def start(self) -> frozenset[int]:
        """The matcher's state before any path component."""
        return frozenset(self._skip_stars({0}))

    def step(self, states: frozenset[int], name: str) -> frozenset[int]:
        """The state after one more path component (empty: nothing below can match)."""
        parts = self._parts
        following: set[int] = set()
        for i in states:
            if i == len(parts):
                continue
            part = parts[i]
            if part is None:  # "**" takes this component and may take more
                following.add(i)
            elif part.match(name):
                following.add(i + 1)
        return frozenset(self._skip_stars(following))

    def accepts(self, states: frozenset[int]) -> bool:
        """Whether the path stepped so far matches."""
        return len(self._parts) in states

    def may_go_deeper(self, states: frozenset[int]) -> bool:
        """Whether a path below the one stepped so far could match (a walk descends only then)."""
        return any(i < len(self._parts) for i in states)

    def _skip_stars(self, states: set[int]) -> set[int]:
        """Add the positions reached by letting each "**" match zero components."""
        parts = self._parts
        for i in sorted(states):
            while i < len(parts) and parts[i] is None:
                i += 1
                states.add(i)
        return states

    def __repr__(self) -> str:
        return f"GlobPattern({self.pattern!r})"


@lru_cache(maxsize=4096)
def compile_glob(pattern: str) -> GlobPattern:
    """Compile (and cache) a relative glob pattern; raise :class:`ProtocolError` if it is empty or absolute."""
    return GlobPattern(pattern)


def path_below(directory: str, path: str) -> str | None:
    """Absolute ``path`` relative to absolute ``directory``, or None if it is not below it."""
    prefix = directory.rstrip("/") + "/"
    return path[len(prefix) :] if path.startswith(prefix) else None


def glob_match(directory: str, pattern: str, path: str) -> str | None:
    """``path`` relative to ``directory`` if ``pattern`` (relative to it) matches it, else None."""
    relative = path_below(directory, path)
    if relative is None or not compile_glob(pattern).matches(tuple(relative.split("/"))):
        return None
    return relative


def glob_matches(directory: str, pattern: str, path: str) -> bool:
    """Whether absolute ``path`` is matched by ``pattern`` relative to absolute ``directory``."""
    return glob_match(directory, pattern, path) is not None
