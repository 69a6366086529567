"""Idle CPU of polling: reloadd's poller on N registered files against watchfiles' force-polling.

``python -m bench.polling_cpu [--size 20000] [--unregistered 40000] [--window 30] [--rounds 2]``:
one synthetic tree (:mod:`bench.trees`), nothing changing, measured in the same run, round
by round, twice: the tree alone (every file in it registered: polling's worst case), then
with ``--unregistered`` more files in a ``node_modules`` folder inside it that no dev server
imports (what a share holding a project usually holds too):

* **reloadd**: a daemon with ``RELOADD_FORCE_POLLING=1`` (every root polled, as a root on
  NFS would be) and one client that registered every file of the tree; the daemon's CPU
  (all threads, from ``/proc/<pid>/stat``) over the window, at its default interval.
* **watchfiles**: ``watchfiles.watch(root, force_polling=True)`` in a process of its own,
  with its default ``poll_delay_ms`` (300) and with reloadd's interval, for a like-for-like
  figure; that process's CPU over the same window.

Printed as % of one core, and reloadd's ratio to each. Not run by CI; nothing asserted.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time

from bench.daemon import Daemon
from bench.environment import BenchEnv
from bench.procinfo import cpu_seconds
from bench.trees import Tree, make_tree
from reloadd.client import Client
from reloadd.daemon.backends.poller import POLL_INTERVAL

SETTLE = 3.0
"""Seconds after set-up (the daemon's first pass, watchfiles' first crawl) before a window."""

_WATCHFILES = """
import sys, watchfiles
print("ready", flush=True)
for _ in watchfiles.watch(sys.argv[1], force_polling=True, poll_delay_ms=int(sys.argv[2])):
    pass
"""


def cpu_percent(pid: int, window: float) -> float:
    """``pid``'s CPU over the next ``window`` seconds, in % of one core."""
    before, started = cpu_seconds(pid), time.monotonic()
    time.sleep(window)
    return 100 * (cpu_seconds(pid) - before) / (time.monotonic() - started)


def reloadd_idle(env: BenchEnv, tree: Tree, window: float) -> float:
    """The polling daemon's idle CPU with one client registering every file of ``tree``."""
    daemon = Daemon(
        tree.root,
        "builtin",
        env=dict(env.env, RELOADD_FORCE_POLLING="1"),
        log_dir=env.logs,
        watchman_sock="",
    )
    daemon.start()
    try:
        with Client(tree.root, name="bench server", spawn=False) as client:
            client.watch(files=list(tree.files))
            polled = client.status().polled_roots
            if str(tree.root) not in polled:
                raise RuntimeError(f"the daemon does not poll {tree.root}: {polled}")
            time.sleep(SETTLE)
            return cpu_percent(daemon.pid, window)
    finally:
        daemon.stop()


def watchfiles_idle(env: BenchEnv, tree: Tree, window: float, delay_ms: int) -> float:
    """``watchfiles.watch(force_polling=True)``'s idle CPU on ``tree``."""
    process = subprocess.Popen(
        [sys.executable, "-c", _WATCHFILES, str(tree.root), str(delay_ms)],
        stdout=subprocess.PIPE,
        text=True,
        env=env.env,
    )
    try:
        assert process.stdout is not None
        if process.stdout.readline().strip() != "ready":
            raise RuntimeError("the watchfiles process did not start")
        time.sleep(SETTLE)
        return cpu_percent(process.pid, window)
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


def add_unregistered(tree: Tree, count: int) -> None:
    """``count`` small files in ``node_modules`` under the tree, 100 a folder; none registered."""
    for index in range(count):
        folder = tree.root / "node_modules" / f"pkg{index // 100}"
        if index % 100 == 0:
            folder.mkdir(parents=True, exist_ok=True)
        (folder / f"f{index}.js").write_text("module.exports = 1;\n")


def main(argv: list[str] | None = None) -> None:
    """Measure each contender ``--rounds`` times, interleaved, per scenario; print one table."""
    parser = argparse.ArgumentParser(prog="python -m bench.polling_cpu")
    parser.add_argument("--size", type=int, default=20_000, help="registered files in the tree")
    parser.add_argument(
        "--unregistered", type=int, default=40_000, help="files no one registered, added after"
    )
    parser.add_argument("--window", type=float, default=30.0, help="seconds per window")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args(argv)
    same_ms = int(POLL_INTERVAL * 1000)
    labels = (
        f"reloadd poller (interval {POLL_INTERVAL:g} s)",
        "watchfiles force_polling (poll_delay_ms=300, its default)",
        f"watchfiles force_polling (poll_delay_ms={same_ms})",
    )
    rows: list[tuple[str, str, float, str]] = []
    with BenchEnv() as env:
        tree = make_tree(env.base / "trees", args.size)
        scenarios = [f"{args.size:,} files, all registered"]
        if args.unregistered:
            scenarios.append(f"{args.size:,} registered + {args.unregistered:,} not")
        for scenario in scenarios:
            if scenario != scenarios[0]:
                add_unregistered(tree, args.unregistered)
            samples: dict[str, list[float]] = {label: [] for label in labels}
            for round_ in range(args.rounds):
                print(f"{scenario}: round {round_ + 1} of {args.rounds}...", file=sys.stderr)
                samples[labels[0]].append(reloadd_idle(env, tree, args.window))
                samples[labels[1]].append(watchfiles_idle(env, tree, args.window, 300))
                samples[labels[2]].append(watchfiles_idle(env, tree, args.window, same_ms))
            ours = min(samples[labels[0]])
            for label in labels:
                value = min(samples[label])
                ratio = f"{ours / value:.2g}x" if value and label != labels[0] else ""
                rows.append((scenario, label, value, ratio))
    print(f"idle CPU, nothing changing, best of {args.rounds} windows of {args.window:g} s")
    print()
    print("| scenario | contender | % of one core | reloadd's ratio to it |")
    print("| --- | --- | --- | --- |")
    for scenario, label, value, ratio in rows:
        print(f"| {scenario} | {label} | {value:.2f} | {ratio} |")


if __name__ == "__main__":
    main()
