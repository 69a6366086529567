"""The daemon's budget of file descriptors: the soft limit raised at start, and what it allows.

Every client connection costs the daemon one descriptor, and libzmq 4.3.5 aborts the
whole process (``Too many open files (src/ipc_listener.cpp:297)``) when ``accept`` on
an ``ipc://`` endpoint fails with ``EMFILE``: its IPC listener, unlike its TCP one, does
not count ``EMFILE`` among the errors it survives. So the daemon raises its soft
``RLIMIT_NOFILE`` towards the hard limit when it starts (:func:`raise_fd_limit`), and
caps its connections well below the limit it got (:func:`connection_cap`, used by
:mod:`reloadd.daemon.connection_cap`).
"""

from __future__ import annotations

import logging
import resource

from reloadd.protocol.limits import MAX_CONNECTIONS

log = logging.getLogger("reloadd.daemon")

FD_LIMIT_TARGET = 65_536
"""The soft ``RLIMIT_NOFILE`` the daemon asks for at start (never above the hard limit):
plenty for :data:`~reloadd.protocol.limits.MAX_CONNECTIONS` plus the backends' descriptors,
without reserving the million some systems allow."""

FD_RESERVE_SHARE = 2
"""1/this of the soft limit is kept free of client connections: for the backend, pipes and
files, and because libzmq's I/O thread goes on accepting until the daemon's monitor
thread has refused the excess (it needs the GIL, and a CPU). A quarter of 1,024 was
measured to run out once in four floods on a loaded 2-core machine."""


def raise_fd_limit(target: int = FD_LIMIT_TARGET) -> int:
    """Raise the soft ``RLIMIT_NOFILE`` to ``target`` where the hard limit allows; the soft limit now.

    Never lowers it, never fails: a limit that cannot be raised is logged and kept.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = target if hard == resource.RLIM_INFINITY else min(target, hard)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
        except (ValueError, OSError) as exc:
            log.warning("cannot raise the open-file limit from %d to %d: %s", soft, wanted, exc)
            return soft
        log.debug("raised the open-file limit from %d to %d", soft, wanted)
        return wanted
    return soft


def connection_cap(soft_limit: int | None = None) -> int:
    """Most client connections the daemon keeps open under the soft limit (``None``: the current one)."""
    if soft_limit is None:
        soft_limit = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    if soft_limit == resource.RLIM_INFINITY:
        return MAX_CONNECTIONS
    return max(1, min(MAX_CONNECTIONS, soft_limit - soft_limit // FD_RESERVE_SHARE))
