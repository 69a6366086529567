"""Giving freed memory back to the system: large blocks outside the heap, and a trim after a client leaves.

glibc keeps freed heap pages for reuse: after a client that never read left, the
daemon stayed at its peak RSS. ``malloc_trim(0)`` returns them. Large blocks (a
notification or a save report of megabytes, their buffers in libzmq) are kept out
of the heap altogether by :func:`map_large_blocks`: glibc raises its mmap
threshold after the first large block is freed (up to 32 MB), after which such
blocks come from the heaps, and the small objects allocated between them pin
their pages. Elsewhere (musl, macOS) both do nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
from collections.abc import Callable

MMAP_THRESHOLD = 128 * 1024
"""Bytes from which a block gets its own mapping, returned to the system when freed
(glibc's initial threshold, kept fixed)."""

_M_MMAP_THRESHOLD = -3
"""glibc's ``mallopt`` parameter number for the mmap threshold (``malloc.h``)."""

_trim: Callable[[int], int] | None = None


def release_memory() -> None:
    """Return freed heap pages to the system where the C library allows it (best effort)."""
    global _trim
    if _trim is None:
        _trim = _find_malloc_trim()
    _trim(0)


def map_large_blocks() -> None:
    """Give every block of ``MMAP_THRESHOLD`` bytes or more its own mapping (glibc; best effort).

    Measured with a client that never reads (40 save reports of 7 MB): the daemon's
    peak went from 79 to 60 MB, and what stayed after it left from 21 to 14 MB over
    the start, the same in every run.
    """
    libc = _libc()
    mallopt = getattr(libc, "mallopt", None) if libc is not None else None
    if mallopt is not None:
        mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)


def _libc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    if name:
        try:
            return ctypes.CDLL(name)
        except OSError:
            pass
    return None


def _find_malloc_trim() -> Callable[[int], int]:
    libc = _libc()
    trim: Callable[[int], int] | None = getattr(libc, "malloc_trim", None) if libc else None
    return trim if trim is not None else (lambda pad: 0)
