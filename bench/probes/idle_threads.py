"""Idle CPU of 8 servers x 20,000 files on each backend, per process and per daemon thread.

``python -m bench.probes.idle_threads [--rounds N] [--window S]``: the bench's idle
measure with longer windows, the backends interleaved round by round, and the daemon's
CPU split by thread (from ``/proc/<pid>/task``), so that a watcher thread that wakes
while nothing changes shows by name.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

from bench.environment import BenchEnv
from bench.lineup import LINEUP, shared_processes
from bench.procinfo import stat_cpu_seconds, total_cpu_seconds

SERVERS = 8
SIZE = 20_000
SETTLE = 2.0
"""Seconds after every server is ready before the window opens."""


def thread_cpu_seconds(pid: int) -> dict[str, float]:
    """CPU seconds of each thread of ``pid``, keyed by ``"<name> <tid>"``."""
    seconds: dict[str, float] = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        task = Path(f"/proc/{pid}/task/{tid}")
        try:
            seconds[f"{(task / 'comm').read_text().strip()} {tid}"] = stat_cpu_seconds(
                task / "stat"
            )
        except OSError:  # the thread ended meanwhile
            continue
    return seconds


def main() -> None:
    """Print one line per backend and round."""
    parser = argparse.ArgumentParser(prog="python -m bench.probes.idle_threads")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--window", type=float, default=30.0, help="seconds per window")
    args = parser.parse_args()
    entries = [entry for entry in LINEUP if entry.backend is not None]
    with BenchEnv() as env:
        tree = env.tree(SIZE)
        for round_ in range(args.rounds):
            for entry in entries:
                with shared_processes(env, entry, tree) as shared:
                    workers = env.workers(entry.kind, tree, SERVERS)
                    try:
                        time.sleep(SETTLE)
                        daemon, servers = shared[0], [w.pid for w in workers]
                        threads = thread_cpu_seconds(daemon)
                        total = total_cpu_seconds([*shared, *servers])
                        by_servers = total_cpu_seconds(servers)
                        started = time.monotonic()
                        time.sleep(args.window)
                        elapsed = time.monotonic() - started
                        total = total_cpu_seconds([*shared, *servers]) - total
                        by_servers = total_cpu_seconds(servers) - by_servers
                        after = thread_cpu_seconds(daemon)
                    finally:
                        env.stop_workers(workers)
                busy = {
                    name: f"{100 * (used - threads.get(name, 0.0)) / elapsed:.2f} %"
                    for name, used in after.items()
                    if used > threads.get(name, 0.0)
                }
                print(
                    f"round {round_} {entry.label}: {100 * total / elapsed:.2f} % in total, "
                    f"servers {100 * by_servers / elapsed:.2f} %, daemon threads that ran: {busy}",
                    flush=True,
                )


if __name__ == "__main__":
    main()
