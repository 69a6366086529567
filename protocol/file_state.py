"""What a change to a file is: its state as ``stat`` gives it, compared before and after.

The daemon compares states to tell real changes from rescans (after Watchman
restarts or recrawls), and to answer ``since``; the client's polling fallback
compares them between two scans. Both use this one definition, so that a file the
daemon calls unchanged is one the fallback calls unchanged too. Standard library only.
"""

from __future__ import annotations

import os

FileState = tuple[int, int, int] | None
"""(mtime in ns, ctime in ns, size), or None for a missing file."""


def stat_state(path: str) -> FileState:
    """The state of one file now."""
    try:
        info = os.stat(path)
    except OSError:
        return None
    return (info.st_mtime_ns, info.st_ctime_ns, info.st_size)


def touched_after(state: FileState, since: float) -> bool:
    """Whether a file in this state was written (or had its metadata changed) after ``since``."""
    if state is None:
        return False
    return max(state[0], state[1]) > since * 1e9
