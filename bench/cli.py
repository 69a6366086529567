"""``python -m bench``: run the measures and print one table.

    python -m bench                  # everything (the browser measure alone: about 10 minutes on 2 cores)
    python -m bench --quick          # fewer samples, sizes and windows
    python -m bench --only latency --only setup --sizes 20000
    python -m bench --only e2e --only uvicorn --only flask --e2e-runs 21

The table goes to stdout (Markdown), then the warm-restart ratios (when a measure
gave any); progress and notes to stderr. ``--json PATH`` keeps every number.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from types import FrameType

from bench import (
    browser_refresh,
    burst,
    django_restart,
    e2e_apps,
    e2e_django,
    events,
    idle_cpu,
    import_time,
    latency,
    memory,
    setup_cost,
)
from bench.environment import BenchEnv
from bench.machine import describe, load
from bench.plan import FULL, QUICK, Plan
from bench.results import Result, notes, table, to_json
from bench.warm_ratios import ratio_table

log = logging.getLogger("bench")

MEASURES: dict[str, Callable[[BenchEnv, Plan], list[Result]]] = {
    "latency": latency.run,
    "setup": setup_cost.run,
    "idle": idle_cpu.run,
    "memory": memory.run,
    "burst": burst.run,
    "import": import_time.run,
    "e2e": e2e_django.run,
    "uvicorn": e2e_apps.run_uvicorn,
    "flask": e2e_apps.run_flask,
    "restart": django_restart.run,
    "events": events.run,
    "browser": browser_refresh.run,
}


def build_parser() -> argparse.ArgumentParser:
    """The command's arguments."""
    parser = argparse.ArgumentParser(
        prog="python -m bench", description="reloadd against its anchors, side by side."
    )
    parser.add_argument(
        "--quick", action="store_true", help="a short run: fewer samples, sizes and windows"
    )
    parser.add_argument(
        "--only",
        action="append",
        choices=tuple(MEASURES),
        metavar="NAME",
        help=f"run only this measure (repeatable): {', '.join(MEASURES)}",
    )
    parser.add_argument(
        "--sizes", help="comma-separated tree sizes for latency and set-up (e.g. 1000,20000)"
    )
    parser.add_argument(
        "--e2e-runs",
        type=int,
        metavar="N",
        help="timed edits per contender in the end-to-end measures (e2e, uvicorn, flask)",
    )
    parser.add_argument("--json", type=Path, help="also write every result to this JSON file")
    parser.add_argument("--keep", action="store_true", help="keep the temp folder (logs, trees)")
    return parser


def _stop(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(f"bench: stopped by {signal.Signals(signum).name}")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the bench; return the exit status.

    SIGINT and SIGTERM (even in a background job, which ignores SIGINT by default)
    end it through the clean-up that stops every process it started.
    """
    args = build_parser().parse_args(argv)
    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    logging.basicConfig(level=logging.INFO, format="bench: %(message)s", stream=sys.stderr)
    plan = QUICK if args.quick else FULL
    if args.sizes:
        plan = plan.with_sizes(tuple(int(s) for s in args.sizes.split(",")))
    if args.e2e_runs:
        plan = replace(plan, e2e_runs=args.e2e_runs)
    chosen = args.only or list(MEASURES)
    results: list[Result] = []
    failed: list[str] = []
    started = time.monotonic()
    load_before = load()
    with BenchEnv(keep=args.keep) as env:
        log.info("working in %s", env.base)
        for name in chosen:
            log.info("%s ...", name)
            began = time.monotonic()
            try:
                results += MEASURES[name](env, plan)
            except Exception:
                log.exception("%s failed (logs in %s)", name, env.logs)
                failed.append(name)
            log.info("%s done in %.0f s", name, time.monotonic() - began)
    print("\n".join(describe()))
    mode = "--quick" if plan.quick else "full"
    print(
        f"run: {mode}, {time.monotonic() - started:.0f} s; {load_before} at the start, {load()} at the end"
    )
    print()
    print(table(results))
    ratios = ratio_table(results)
    if ratios:
        print()
        print("Warm restarts (issue 18's targets), ratios of p50s in this run:")
        print()
        print(ratios)
    print()
    for line in notes(results):
        print(f"- {line}")
    if args.json:
        args.json.write_text(to_json(results))
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0
