"""When the current process started, as a Unix time: the ``since`` of a dev server's first watch."""

from __future__ import annotations

import os
import time
from pathlib import Path


def process_start_time(pid: int | None = None) -> float:
    """The latest Unix time at which the process may have started; now, where that cannot be read.

    Linux gives a process's start in clock ticks (10 ms), rounded down; this adds
    one tick. A file written before the process started thus always looks older
    than it, and is not reported as an edit the process missed. An edit made in
    the first tick, before the interpreter read any of the program's files, is
    not one either.

    A process keeps its start time across ``exec``: a shell script that installs or
    generates files and then ``exec``s the dev server makes those files look edited
    after this time. Start the dev server as a child of such a script instead.
    """
    try:
        stat = Path(f"/proc/{pid or 'self'}/stat").read_text()
        # Field 22 (starttime), in clock ticks since boot; fields counted after the "(comm)".
        ticks = int(stat.rsplit(")", 1)[1].split()[19])
        tick = os.sysconf("SC_CLK_TCK")
        now = time.time()
        return min(now, now - (time.clock_gettime(time.CLOCK_BOOTTIME) - (ticks + 1) / tick))
    except (OSError, ValueError, IndexError, AttributeError):
        return time.time()
