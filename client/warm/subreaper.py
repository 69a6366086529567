"""``PR_SET_CHILD_SUBREAPER``: the forked children of a template become this process's own children.

A template forks twice and the middle process exits, so its grandchild — the new
dev server — is re-parented to the nearest subreaper among its ancestors: the
supervisor, once this is set. The supervisor then waits for it with ``waitpid`` and
gets its exact exit status, and no template has to stay alive to relay it.

Linux only (``prctl``, since Linux 3.4); elsewhere :func:`become_subreaper` says why not.
It is a property of the whole process: orphans of any descendant come to it too (their
zombies are reaped by :class:`~reloadd.client.warm.started.StartedChild`, by process group).
"""

from __future__ import annotations

import os
import sys

PR_SET_CHILD_SUBREAPER = 36


def become_subreaper(on: bool = True) -> str | None:
    """Make this process a subreaper (``on=False``: no longer); None on success, else why not."""
    if not sys.platform.startswith("linux"):
        return f"forking a template needs Linux's PR_SET_CHILD_SUBREAPER (not on {sys.platform})"
    import ctypes  # only here: a supervisor without --warm never loads it
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
        if libc.prctl(PR_SET_CHILD_SUBREAPER, int(on), 0, 0, 0) != 0:
            return f"prctl(PR_SET_CHILD_SUBREAPER) failed: {os.strerror(ctypes.get_errno())}"
    except (OSError, AttributeError) as exc:
        return f"cannot call prctl ({exc})"
    return None
