"""CPU time and memory of processes, read from ``/proc`` (Linux)."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of ``pid`` (all its threads), in seconds."""
    return stat_cpu_seconds(Path(f"/proc/{pid}/stat"))


def stat_cpu_seconds(stat_file: Path) -> float:
    """User plus system CPU time from a ``/proc`` ``stat`` file (a process's or a thread's)."""
    stat = stat_file.read_text()
    # Fields after "(comm)": state is field 3, utime 14 and stime 15 (1-based).
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def total_cpu_seconds(pids: Iterable[int]) -> float:
    """The CPU time of all ``pids`` together."""
    return sum(cpu_seconds(pid) for pid in pids)


def rss_mb(pid: int, field: str = "VmRSS") -> float:
    """Resident memory of ``pid`` in MB (``VmRSS``; ``VmHWM`` for its peak)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise ValueError(f"no {field} for pid {pid}")
