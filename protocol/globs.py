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
        self._parts: tuple[re.Pattern[str] | None, ...] = tuple(
            None if part == "**" else re.compile(translate(part)) for part in parts
        )

    def matches(self, relative_parts: tuple[str, ...]) -> bool:
        """Whether a path, given as its components relative to the glob's directory, matches."""
        # A set of pattern positions stepped over the path, one component at a time:
        # O(pattern * path) whatever the pattern, where backtracking over several "**"
        # is exponential (a hostile glob would freeze the daemon) and recurses.
        parts = self._parts
        states = self._skip_stars({0})
        for name in relative_parts:
            following: set[int] = set()
            for i in states:
                if i == len(parts):
                    continue
                part = parts[i]
                if part is None:  # "**" takes this component and may take more
                    following.add(i)
                elif part.match(name):
                    following.add(i + 1)
            states = self._skip_stars(following)
            if not states:
                return False
        return len(parts) in states

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


def glob_matches(directory: str, pattern: str, path: str) -> bool:
    """Whether absolute ``path`` is matched by ``pattern`` relative to absolute ``directory``."""
    prefix = directory.rstrip("/") + "/"
    if not path.startswith(prefix):
        return False
    return compile_glob(pattern).matches(tuple(path[len(prefix) :].split("/")))
