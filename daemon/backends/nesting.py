"""Roots as plain path strings: which lies within which, and the outermost of a set.

The built-in watchers keep their roots as real-path strings (no two the same folder),
so that a change's path can be matched to its root by a prefix test alone.
"""

from __future__ import annotations

import os
from collections.abc import Iterable


def is_within(path: str, root: str) -> bool:
    """Whether ``path`` is ``root`` or lies below it."""
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def root_of(path: str, roots: Iterable[str]) -> str | None:
    """The root of ``roots`` that ``path`` lies within, if any."""
    for root in roots:
        if is_within(path, root):
            return root
    return None


def is_covered(path: str, roots: Iterable[str]) -> bool:
    """Whether ``path`` lies within one of ``roots``."""
    return root_of(path, roots) is not None


def outermost(roots: Iterable[str]) -> frozenset[str]:
    """``roots`` without those lying below another one."""
    kept: list[str] = []
    for root in sorted(set(roots), key=len):  # shortest first: a parent comes before its children
        if not is_covered(root, kept):
            kept.append(root)
    return frozenset(kept)
