"""Large blocks stay out of the heap, so freeing them gives their memory back at once.

Run in a fresh interpreter: the mmap threshold is process-wide, and glibc raises it the
first time a large block is freed (which is what :func:`map_large_blocks` prevents).
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

PROBE = textwrap.dedent(
    """
    import ctypes, sys
    from reloadd.daemon.heap import map_large_blocks

    if sys.argv[1] == "mapped":
        map_large_blocks()
    first = bytearray(16 * 1024 * 1024)  # freed: glibc would now raise its threshold to 16 MB
    del first
    block = bytearray(int(sys.argv[2]))
    address = ctypes.addressof((ctypes.c_char * len(block)).from_buffer(block))
    for line in open("/proc/self/maps"):
        span, *rest = line.split()
        low, high = (int(end, 16) for end in span.split("-"))
        if low <= address < high:
            print("heap" if line.rstrip().endswith("[heap]") else "own mapping")
    """
)


def where_a_large_block_lives(mode: str) -> str:
    """Where a 4 MB block lands after a 16 MB block was freed."""
    result = subprocess.run(
        [sys.executable, "-c", PROBE, mode, str(4 * 1024 * 1024)],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    return result.stdout.strip()


def test_large_blocks_get_their_own_mapping_after_a_larger_one_was_freed() -> None:
    assert where_a_large_block_lives("mapped") == "own mapping"


def test_without_it_glibc_puts_them_in_the_heap() -> None:
    # What the daemon did before: the probe tells the two apart.
    assert where_a_large_block_lives("default") == "heap"
