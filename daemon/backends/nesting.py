"""Folders within folders: which lies within which, and the outermost of a set.

The one place that answers "is this path below that root" for the whole daemon: the
built-in watchers keep their roots as real-path strings (so a change's path is matched
to its root by a prefix test alone), the Watchman backend and :mod:`reloadd.daemon.roots`
as :class:`~pathlib.Path`; both kinds are accepted.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import TypeVar

PathT = TypeVar("PathT", str, "os.PathLike[str]")


def folder_prefixes(roots: Iterable[str | os.PathLike[str]]) -> tuple[str, ...]:
    """Each root with one trailing separator: ``name.startswith(prefixes)`` says "below one"."""
    return tuple(os.fspath(root).rstrip(os.sep) + os.sep for root in roots)


def is_within(path: str | os.PathLike[str], root: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is ``root`` or lies below it."""
    path, root = os.fspath(path), os.fspath(root)
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def root_of(path: str, roots: Iterable[str]) -> str | None:
    """The root of ``roots`` that ``path`` lies within, if any."""
    for root in roots:
        if is_within(path, root):
            return root
    return None


def is_covered(path: str | os.PathLike[str], roots: Iterable[str | os.PathLike[str]]) -> bool:
    """Whether ``path`` is one of ``roots`` or lies within one."""
    return any(is_within(path, root) for root in roots)


def outermost(roots: Iterable[PathT]) -> frozenset[PathT]:
    """``roots`` without those lying below another one."""
    kept: list[PathT] = []
    # Shortest first: a parent comes before its children.
    for root in sorted(set(roots), key=lambda r: len(os.fspath(r))):
        if not is_covered(root, kept):
            kept.append(root)
    return frozenset(kept)
