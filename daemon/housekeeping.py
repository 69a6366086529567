"""Once a second, on the main thread: clients that went silent or died, expired grace periods.

Housekeeping never raises for one client's sake: a pid the kernel cannot look up
(out of range) counts as alive, and the client is judged by its silence instead.
"""

from __future__ import annotations

import logging
import os
import time

from reloadd.daemon.context import REMOTE_SILENCE_LIMIT, SILENCE_LIMIT, DaemonContext, label
from reloadd.daemon.heap import release_memory

log = logging.getLogger("reloadd.daemon")

HOUSEKEEPING_INTERVAL = 1.0
"""Seconds between checks for silent or dead clients, expired grace periods and state saves."""


def check_clients(ctx: DaemonContext) -> None:
    """Mark silent or dead clients as departed; forget those whose grace period is over, and
    the outbox accounts of connections that are not registered clients.

    Forgetting a client releases what was kept for it (its registration, the states of
    files no other client registers, freed heap pages) before the log says it was forgotten.
    """
    ctx.roots.forget_dropped()
    now = time.time()
    left = False
    for record in ctx.registry:
        if not record.connected:
            continue
        if not record.remote and not pid_alive(record.pid):
            reason = "exited without saying goodbye"
        elif now - record.last_seen > (REMOTE_SILENCE_LIMIT if record.remote else SILENCE_LIMIT):
            reason = f"was silent for {now - record.last_seen:.0f} s"
        else:
            continue
        ctx.depart(record.identity, reason)
        left = True
    expired = ctx.registry.expire(now)
    ctx.outbox.keep_only({record.identity for record in ctx.registry if record.connected})
    if expired:
        ctx.history.forget_untracked(ctx.registry.tracked_files())
    if left or expired:
        release_memory()
    # Said only once the memory is released: "forgot" means all of it, so a reader of the
    # log (a test measuring the daemon's memory) sees the daemon as it stays.
    for record in expired:
        log.info("forgot %s after its grace period", label(record))


def pid_alive(pid: int) -> bool:
    """Whether a process with this pid exists; True when that cannot be told."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, ValueError):
        return True  # another user's process, or a pid the kernel cannot look up
    return True
