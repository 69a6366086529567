"""``--watch`` and ``--ignore`` globs: what they add to the watch set, and what they leave out.

A glob is relative to the working folder unless absolute. Its leading
components without wildcards name the directory the daemon watches; the rest
is a ``pathlib``-style pattern below it (``**`` crosses folders), so
``--watch 'templates/**/*.html'`` watches ``templates`` for ``**/*.html``. A
glob without wildcards names a file, or everything below a folder.
"""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from reloadd.protocol.globs import glob_matches, path_below

_MAGIC = frozenset("*?[")


@dataclass(frozen=True)
class WatchSet:
    """Files and ``(directory, pattern)`` globs from ``--watch``."""

    files: tuple[str, ...] = ()
    globs: tuple[tuple[str, str], ...] = ()

    def __bool__(self) -> bool:
        return bool(self.files or self.globs)


def split_glob(text: str, cwd: Path) -> tuple[str, str | None]:
    """``(directory, pattern)`` for a glob; ``(path, None)`` for a plain path."""
    path = Path(os.path.expanduser(text))
    parts = (path if path.is_absolute() else cwd / path).parts
    for index, part in enumerate(parts):
        if _MAGIC & set(part):
            directory = os.path.normpath(os.path.join(*parts[:index]))
            return directory, "/".join(parts[index:])
    return os.path.normpath(os.path.join(*parts)), None


def watch_set(globs: Iterable[str], cwd: Path) -> WatchSet:
    """The watch set the ``--watch`` options name."""
    files: list[str] = []
    specs: list[tuple[str, str]] = []
    for text in globs:
        directory, pattern = split_glob(text, cwd)
        if pattern is not None:
            specs.append((directory, pattern))
        elif os.path.isdir(directory):
            specs.append((directory, "**"))
        else:
            files.append(directory)
    return WatchSet(tuple(files), tuple(specs))


@dataclass(frozen=True)
class IgnoreRules:
    """``--ignore`` patterns: name patterns (no ``/``) and path globs.

    A name pattern, as in ``.gitignore``, matches a file or folder name at any
    depth below the working folder (``*.pyc``, ``__pycache__``, ``node_modules``);
    outside it, the file name only.
    """

    names: tuple[str, ...] = ()
    globs: tuple[tuple[str, str], ...] = ()
    base: str = "/"

    @classmethod
    def from_patterns(cls, patterns: Iterable[str], cwd: Path) -> IgnoreRules:
        """Rules from the ``--ignore`` options."""
        names: list[str] = []
        globs: list[tuple[str, str]] = []
        for text in patterns:
            if "/" not in text:
                names.append(text)
                continue
            directory, pattern = split_glob(text, cwd)
            if pattern is None:  # a plain path: that file, or everything below that folder
                if os.path.isdir(directory):
                    pattern = "**"
                else:
                    directory, pattern = os.path.split(directory)
            globs.append((directory, pattern))
        return cls(tuple(names), tuple(globs), str(cwd))

    def __bool__(self) -> bool:
        return bool(self.names or self.globs)

    def ignores(self, path: str) -> bool:
        """Whether an absolute path is left out."""
        if self.names:
            below = path_below(self.base, path)
            names = (below if below is not None else os.path.basename(path)).split("/")
            if any(fnmatch.fnmatchcase(n, pattern) for n in names for pattern in self.names):
                return True
        return any(glob_matches(directory, pattern, path) for directory, pattern in self.globs)

    def keep(self, paths: Iterable[str]) -> list[str]:
        """The paths these rules do not ignore."""
        if not self:
            return list(paths)
        return [path for path in paths if not self.ignores(path)]
