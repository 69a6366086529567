"""What a client registers: names made absolute, glob specs, and messages under the limits."""

from __future__ import annotations

import os
from collections.abc import Iterable

from reloadd.protocol import GlobSpec
from reloadd.protocol.limits import MAX_MESSAGE_BYTES, MAX_PATHS_PER_MESSAGE

GlobLike = tuple["str | os.PathLike[str]", str]
"""A ``(directory, pattern)`` pair, e.g. ``("templates", "**/*.html")``."""

BATCH_BYTES = MAX_MESSAGE_BYTES // 2
"""The most path bytes one ``watch`` message carries (half the message limit, for margin)."""


def as_names(files: Iterable[str | os.PathLike[str]]) -> list[str]:
    """Files as strings (``os.fspath``), in order."""
    return [name if type(name) is str else os.fspath(name) for name in files]


def absolute(names: list[str]) -> list[str]:
    """Names made absolute and normal, as ``os.path.abspath`` would; normal ones kept as they are."""
    if all(_is_normal_absolute(name) for name in names):
        return names  # module_files() already gives these: skip normalising 20,000 paths
    return [os.path.abspath(name) for name in names]


def _is_normal_absolute(name: str) -> bool:
    return (
        name.startswith("/")
        and "//" not in name
        and "/./" not in name
        and "/../" not in name
        and not name.endswith(("/", "/.", "/.."))
    )


def glob_specs(globs: Iterable[GlobLike]) -> list[GlobSpec]:
    """``(directory, pattern)`` pairs as glob specs, each directory made absolute."""
    return [
        GlobSpec(os.path.abspath(os.fspath(directory)), pattern) for directory, pattern in globs
    ]


def glob_key(glob: GlobSpec) -> tuple[str, str]:
    """A sort key for glob specs."""
    return (glob.directory, glob.pattern)


def batches(
    files: list[str], globs: list[GlobSpec]
) -> list[tuple[tuple[str, ...], tuple[GlobSpec, ...]]]:
    """Split a registration into messages under the count and size limits (globs go first)."""
    found: list[tuple[tuple[str, ...], tuple[GlobSpec, ...]]] = []
    batch: list[str] = []
    size = 0
    pending_globs = tuple(globs)
    for name in files:
        if batch and (len(batch) >= MAX_PATHS_PER_MESSAGE or size + len(name) > BATCH_BYTES):
            found.append((tuple(batch), pending_globs))
            batch, size, pending_globs = [], 0, ()
        batch.append(name)
        size += len(name) + 5
    if batch or pending_globs:
        found.append((tuple(batch), pending_globs))
    return found
