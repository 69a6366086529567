"""Thin-client import time, beside what the anchors import, in fresh interpreters.

Each run is a new ``python`` process that times ``import X`` with ``perf_counter``
(the interpreter's own start-up is not counted), from compiled bytecode as after
``pip install`` (see ``bench/environment.py``): a first, untimed import writes it. Django's reloaders come with
``django.utils.autoreload``, which a Django dev server imports anyway.
"""

from __future__ import annotations

import subprocess
import sys

from bench.environment import BenchEnv
from bench.plan import Plan
from bench.results import (
    DJANGO_WATCHMAN,
    PYWATCHMAN,
    RELOADD_CLIENT,
    STAT,
    WATCHFILES,
    Result,
    median,
)

MEASURE = "import (ms)"
TARGET_MS = 60.0
MODULES = {
    RELOADD_CLIENT: "reloadd.client",
    STAT: "django.utils.autoreload",
    DJANGO_WATCHMAN: "django.utils.autoreload",
    WATCHFILES: "watchfiles",
    PYWATCHMAN: "pywatchman",
}
_PROBE = (
    "{before}import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"
)
AFTER_DJANGO = "import django.core.management, django.utils.autoreload; "
"""What ``manage.py runserver`` has imported before an integration imports the thin client."""


def import_ms(module: str, env: dict[str, str], before: str = "") -> float:
    """Milliseconds one fresh interpreter takes to import ``module`` (after running ``before``)."""
    output = subprocess.run(
        [sys.executable, "-c", _PROBE.format(before=before, module=module)],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    ).stdout
    return float(output) * 1000


def slowest_imports(module: str, env: dict[str, str], count: int = 5) -> str:
    """The modules with the largest self time under ``-X importtime``, as one line."""
    stderr = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", f"import {module}"],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    ).stderr
    rows: list[tuple[int, int, str]] = []
    for line in stderr.splitlines():
        parts = line.removeprefix("import time:").split("|")
        if len(parts) == 3 and parts[0].strip().isdigit():
            rows.append((int(parts[1]), int(parts[0]), parts[2].strip()))
    top = sorted(rows, reverse=True)[:count]
    return ", ".join(f"{name} {cumulative / 1000:.0f} ms" for cumulative, _, name in top)


def run(env: BenchEnv, plan: Plan) -> list[Result]:
    """reloadd's thin client and each anchor's modules, ``plan.import_runs`` times each."""
    results: list[Result] = []
    timings: dict[str, list[float]] = {module: [] for module in set(MODULES.values())}
    timings["zmq"] = []
    for module in timings:  # the first import writes the bytecode
        import_ms(module, env.env, AFTER_DJANGO)
    after_django: list[float] = []
    for _ in range(plan.import_runs):
        for module, found in timings.items():
            found.append(import_ms(module, env.env))
        after_django.append(import_ms("reloadd.client", env.env, AFTER_DJANGO))
    for label, module in MODULES.items():
        note = ""
        if label == RELOADD_CLIENT:
            note = (
                f"pyzmq alone {median(timings['zmq']):.1f} ms; largest cumulative: "
                + slowest_imports(module, env.env)
            )
        results.append(
            Result(
                MEASURE,
                "fresh interpreter",
                label,
                median(timings[module]),
                samples=len(timings[module]),
                target_p50=TARGET_MS if label == RELOADD_CLIENT else None,
                note=note,
            )
        )
    results.append(
        Result(
            MEASURE,
            "after Django's management modules",
            RELOADD_CLIENT,
            median(after_django),
            samples=len(after_django),
            note="what a Django dev server pays on top of what it imports anyway",
        )
    )
    return results
