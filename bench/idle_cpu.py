"""Idle CPU: N dev servers on the 20,000-file tree, nothing changing, over a fixed window.

The servers register the tree's files only, so the daemon watches one root; the built-in
backend is also measured with servers that register a module of the standard library
and one of site-packages too, as a real dev server does (three roots).

Counted from ``/proc/<pid>/stat`` (user + system time, all threads) of every process
involved: for reloadd the daemon, every server and Watchman (on the Watchman backend);
for the anchors each server, and Watchman for those that use it. Given as a percentage
of one core over the window.
"""

from __future__ import annotations

import os
import time

import msgpack

from bench.environment import BenchEnv
from bench.lineup import LINEUP, Entry, shared_processes
from bench.plan import Plan
from bench.procinfo import total_cpu_seconds
from bench.results import RELOADD_BUILTIN, Result
from bench.trees import Tree

MEASURE = "idle CPU (% of one core)"
SETTLE = 2.0
"""Seconds after every server is ready before the window opens."""
TARGET = 1.0


def run(env: BenchEnv, plan: Plan) -> list[Result]:
    """Every contender with each number of servers; the built-in backend also on three roots."""
    results: list[Result] = []
    tree = env.tree(plan.idle_size)
    for servers in plan.idle_servers:
        scenario = f"{servers} x {plan.idle_size:,} files"
        for entry in LINEUP:
            results.append(_measure(env, entry, tree, servers, scenario, plan))
    # A real dev server also imports from site-packages and the standard library: two
    # more roots for the daemon. The built-in watcher's idle cost is in its wake-ups,
    # which would grow with the roots if each had its own reader thread.
    servers = max(plan.idle_servers)
    libraries = tree.with_files((os.__file__, msgpack.__file__))
    scenario = f"{servers} x {plan.idle_size:,} files + stdlib + site-packages"
    builtin = next(entry for entry in LINEUP if entry.label == RELOADD_BUILTIN)
    results.append(_measure(env, builtin, libraries, servers, scenario, plan))
    return results


def _measure(
    env: BenchEnv, entry: Entry, tree: Tree, servers: int, scenario: str, plan: Plan
) -> Result:
    with shared_processes(env, entry, tree) as shared:
        workers = env.workers(entry.kind, tree, servers)
        try:
            time.sleep(SETTLE)
            pids = [*shared, *(w.pid for w in workers)]
            before, started = total_cpu_seconds(pids), time.monotonic()
            time.sleep(plan.idle_window)
            used, elapsed = total_cpu_seconds(pids) - before, time.monotonic() - started
        finally:
            env.stop_workers(workers)
    reloadd = entry.backend is not None
    return Result(
        MEASURE,
        scenario,
        entry.label,
        100 * used / elapsed,
        target_p50=TARGET if reloadd and servers == 8 else None,
        note=f"{used:.2f} s of CPU in {elapsed:.0f} s" if reloadd else "",
    )
