"""Giving freed memory back to the system after a client leaves.

glibc keeps freed heap pages for reuse: after a client that never read left, the
daemon stayed at its peak RSS. ``malloc_trim(0)`` returns them. Elsewhere (musl,
macOS) this does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
from collections.abc import Callable

_trim: Callable[[int], int] | None = None


def release_memory() -> None:
    """Return freed heap pages to the system where the C library allows it (best effort)."""
    global _trim
    if _trim is None:
        _trim = _find_malloc_trim()
    _trim(0)


def _find_malloc_trim() -> Callable[[int], int]:
    name = ctypes.util.find_library("c")
    if name:
        try:
            trim: Callable[[int], int] = ctypes.CDLL(name).malloc_trim
            return trim
        except (OSError, AttributeError):  # not glibc
            pass
    return lambda pad: 0
