"""Forks a template made but could not name: found by the template's mark, stopped by pid.

When a template dies or stalls after it has forked but before the supervisor learned
the new child's pid, that child would run beside the cold one started instead (and
take its port). Every process of a template carries the template's environment in
``/proc/PID/environ`` (the environment it was executed with, whatever it later sets),
so such a fork is found among this process's descendants started since the request,
and killed with its process group.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

from reloadd.client.run.child_hook import TEMPLATE_ENV

MARK = f"{TEMPLATE_ENV}=1".encode()
"""The entry every template process has in its initial environment."""

_PROC = Path("/proc")


def now_ticks() -> int:
    """The current time in the kernel's process start-time unit (clock ticks since boot)."""
    try:
        uptime = float((_PROC / "uptime").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 0
    return int(uptime * os.sysconf("SC_CLK_TCK"))


def stop_strays(since: int, *, template: int) -> list[int]:
    """Kill the template's forks started at or after ``since`` (:func:`now_ticks`) that
    descend from this process, but the template itself; return their pids."""
    found = []
    for entry in _PROC.iterdir():
        if not entry.name.isdigit() or int(entry.name) == template:
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            if int(fields[19]) < since or MARK not in (entry / "environ").read_bytes().split(b"\0"):
                continue
        except (OSError, ValueError, IndexError):
            continue
        if _descends_from_us(int(entry.name)):
            found.append(int(entry.name))
    for pid in found:
        for kill in (os.killpg, os.kill):
            try:
                kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
    for pid in found:
        try:
            os.waitpid(pid, 0)
        except ChildProcessError:
            pass  # not (yet) ours: its parent reaps it
    return found


def _descends_from_us(pid: int, depth: int = 4) -> bool:
    me = os.getpid()
    for _ in range(depth):
        try:
            pid = int((_PROC / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            return False
        if pid == me:
            return True
    return False
