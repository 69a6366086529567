"""Save → notification latency: one server, one file saved at a time, p50 and p99.

Each sample saves a randomly chosen module in place and takes the time from just
before the write to the moment the server process is told (both on the machine-wide
monotonic clock). Samples are spaced by a random pause, so that no contender's polling
period lines up with them; Django's WatchmanReloader sleeps 100 ms after each
notification, so its pauses are longer than that.

On each reloadd daemon, the same server is then told of saves that an editor reports
(``saved``) over a persistent connection right after writing: from just before the
write to the server being told. The watcher's own report of each write must tell the
server nothing more; any notification beyond one per save is counted in a note. Once,
on the first size and the built-in watcher, the one-shot ``reloadd changed PATH`` is
run after each save, as an editor's hook runs it: its run time, start to exit
(informational: it pays a Python start-up, so the watcher mostly tells the server first).
"""

from __future__ import annotations

import random
import subprocess
import sys
import time
from pathlib import Path

from bench.environment import BenchEnv
from bench.lineup import LINEUP, Entry, shared_processes
from bench.plan import Plan
from bench.results import (
    RELOADD_BUILTIN,
    RELOADD_REPORT_BUILTIN,
    RELOADD_REPORT_WATCHMAN,
    RELOADD_WATCHMAN,
    Result,
    median,
    percentile,
)
from bench.trees import Tree, rewrite
from bench.workers import Worker
from reloadd.client import Client, Role

MEASURE = "save → notified (ms)"
WARM_UP = 3
TIMEOUT = 5.0
PAUSE = {"stat": 0.2, "django-watchman": 0.12}
"""Shortest pause between samples, by worker kind (default :data:`DEFAULT_PAUSE`)."""
DEFAULT_PAUSE = 0.05
TARGETS = {
    RELOADD_WATCHMAN: (30.0, 60.0),
    RELOADD_BUILTIN: (15.0, None),
    RELOADD_REPORT_WATCHMAN: (5.0, None),
    RELOADD_REPORT_BUILTIN: (5.0, None),
}
REPORTED = {RELOADD_WATCHMAN: RELOADD_REPORT_WATCHMAN, RELOADD_BUILTIN: RELOADD_REPORT_BUILTIN}
"""The label of the save-report rows of each reloadd daemon."""
REPORT_PAUSE = 0.1
"""Shortest pause between reported saves: the watcher's report of the last one (5 to 25 ms
after it) is handled by then, and its echo, if any, counted."""
CLI_MEASURE = "`reloadd changed`, one-shot: start → exit (ms)"
CLI_RUNS = 10


def sample(
    worker: Worker, tree: Tree, count: int, pause: float, seed: int, editor: Client | None = None
) -> tuple[list[float], int, int]:
    """``count`` latencies in ms (after a few untimed), saves never told, extra notifications.

    With an ``editor``, each save is also reported through it at once; a notification
    beyond one per save (the watcher's echo of a reported write) counts as extra.
    """
    rng = random.Random(seed)
    latencies: list[float] = []
    missed = extra = 0
    worker.discard_pending()
    for index in range(WARM_UP + count):
        path = rng.choice(tree.files)
        time.sleep(rng.uniform(pause, 2 * pause))
        extra += worker.discard_pending()
        saved_at = time.monotonic_ns()
        rewrite(path, index)
        if editor is not None:
            editor.saved([path])
        change = worker.next_change(TIMEOUT)
        if index < WARM_UP:
            continue
        if change is None:
            missed += 1
        else:
            latencies.append((change.at_ns - saved_at) / 1e6)
    time.sleep(pause)
    return latencies, missed, extra + worker.discard_pending()


def sample_cli(env: BenchEnv, worker: Worker, tree: Tree, count: int) -> tuple[list[float], int]:
    """Run times in ms of ``reloadd changed PATH`` right after a save; how many told the server."""
    script = Path(sys.executable).parent / "reloadd"
    command = [str(script)] if script.exists() else [sys.executable, "-m", "reloadd.client.cli"]
    rng = random.Random(count)
    runs: list[float] = []
    told = 0
    for index in range(count):
        path = rng.choice(tree.files)
        time.sleep(rng.uniform(REPORT_PAUSE, 2 * REPORT_PAUSE))
        worker.discard_pending()
        rewrite(path, index)
        started = time.monotonic_ns()
        result = subprocess.run(
            [*command, "changed", path],
            cwd=tree.root,
            env=env.env,
            capture_output=True,
            text=True,
            timeout=TIMEOUT * 6,
            check=False,
        )
        runs.append((time.monotonic_ns() - started) / 1e6)
        if result.returncode != 0:
            raise RuntimeError(f"reloadd changed failed: {result.stderr.strip()}")
        told += result.stdout.startswith("reloadd: told 1 ")
        worker.next_change(TIMEOUT)
    return runs, told


def reported_saves(
    env: BenchEnv, worker: Worker, entry: Entry, tree: Tree, count: int, *, cli: bool
) -> list[Result]:
    """The save-report rows of one reloadd daemon (its server is ready)."""
    scenario = f"{tree.size:,} files"
    label = REPORTED[entry.label]
    with Client(
        tree.root, name="bench editor", role=Role.EDITOR, spawn=False, fallback=False
    ) as editor:
        latencies, missed, extra = sample(
            worker, tree, count, REPORT_PAUSE, seed=tree.size, editor=editor
        )
    notes = [f"{missed} of {count} reported saves never told"] if missed else []
    if extra:
        notes.append(f"{extra} notifications beyond one per save")
    target_p50, target_p99 = TARGETS[label]
    results = [
        Result(
            MEASURE,
            scenario,
            label,
            median(latencies),
            percentile(latencies, 99),
            samples=len(latencies),
            target_p50=target_p50,
            target_p99=target_p99,
            note="; ".join(notes),
        )
    ]
    if cli:
        runs, told = sample_cli(env, worker, tree, CLI_RUNS)
        results.append(
            Result(
                CLI_MEASURE,
                scenario,
                entry.label,
                median(runs),
                percentile(runs, 99),
                samples=len(runs),
                note=f"the command told the server itself after {told} of {len(runs)} saves; "
                "the watcher was first after the others",
            )
        )
    return results


def run(env: BenchEnv, plan: Plan) -> list[Result]:
    """Every contender on every tree size; on reloadd's daemons, saves an editor reports too."""
    results: list[Result] = []
    for size in plan.sizes:
        tree = env.tree(size)
        scenario = f"{size:,} files"
        for entry in LINEUP:
            count = plan.stat_latency_samples if entry.kind == "stat" else plan.latency_samples
            reports: list[Result] = []
            with shared_processes(env, entry, tree):
                worker = env.worker(entry.kind, tree)
                try:
                    worker.wait_ready()
                    latencies, missed, _ = sample(
                        worker, tree, count, PAUSE.get(entry.kind, DEFAULT_PAUSE), seed=size
                    )
                    if entry.label in REPORTED:
                        cli = size == plan.sizes[0] and entry.label == RELOADD_BUILTIN
                        reports = reported_saves(env, worker, entry, tree, count, cli=cli)
                finally:
                    env.stop_workers([worker])
            target_p50, target_p99 = TARGETS.get(entry.label, (None, None))
            results.append(
                Result(
                    MEASURE,
                    scenario,
                    entry.label,
                    median(latencies),
                    percentile(latencies, 99),
                    samples=len(latencies),
                    target_p50=target_p50,
                    target_p99=target_p99,
                    note=f"{missed} of {count} saves never reported" if missed else "",
                )
            )
            results += reports
    return results
