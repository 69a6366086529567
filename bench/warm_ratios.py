"""The warm-restart targets of issue 18, as ratios between contenders of the same run.

Each :class:`RatioTarget` names a warm result and what it is compared with (same measure,
same scenario); :func:`ratio_table` prints the two p50s, their ratio, the target ratio
(where the issue sets one) and whether it is met. A contender that did not run (no
``--warm`` yet) shows as ``n/a``, and its target as not checked.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from bench.results import (
    FLASK_RELOADER,
    ONE_SERVER,
    RELOADD_BUILTIN,
    RELOADD_TEMPLATE,
    RELOADD_WARM,
    STAT,
    UVICORN_RELOAD,
    Result,
    fmt,
)

DJANGO = ("Django: edit view → new page served (ms)", "startproject + 1 app")
UVICORN = ("uvicorn: edit app → new response (ms)", "FastAPI hello app")
FLASK = ("Flask: edit app → new response (ms)", "Flask hello app")
RSS = "memory: RSS (MB)"
PSS = "memory: PSS (MB)"


@dataclass(frozen=True)
class RatioTarget:
    """``contender`` / ``against`` in one measure and scenario, with the issue's bound if any."""

    measure: str
    scenario: str
    contender: str
    against: str
    target: float | None = None


def targets(memory_scenarios: Iterable[str] = ()) -> list[RatioTarget]:
    """Every ratio the bench reports, the issue's targets first in each group."""
    rows = [
        RatioTarget(*DJANGO, RELOADD_WARM, RELOADD_BUILTIN, 0.3),
        RatioTarget(*DJANGO, RELOADD_WARM, STAT, 0.2),
        RatioTarget(*UVICORN, RELOADD_WARM, UVICORN_RELOAD, 0.3),
        RatioTarget(*UVICORN, RELOADD_WARM, RELOADD_BUILTIN),
        RatioTarget(*UVICORN, RELOADD_BUILTIN, UVICORN_RELOAD),
        RatioTarget(*FLASK, RELOADD_WARM, RELOADD_BUILTIN, 0.5),
        RatioTarget(*FLASK, RELOADD_WARM, FLASK_RELOADER),
    ]
    for scenario in memory_scenarios:
        rows.append(RatioTarget(RSS, scenario, RELOADD_TEMPLATE, ONE_SERVER, 1.0))
        rows.append(RatioTarget(PSS, scenario, RELOADD_TEMPLATE, ONE_SERVER))
    return rows


def ratio_table(results: Iterable[Result]) -> str:
    """The Markdown table of the warm ratios these results hold ("" if they hold none)."""
    results = list(results)
    by_key = {(r.measure, r.scenario, r.contender): r for r in results}
    memory = dict.fromkeys(r.scenario for r in results if r.measure == RSS)
    rows = [["measure", "scenario", "ratio", "p50s", "ratio value", "target", "met"]]
    for row in targets(memory):
        mine = by_key.get((row.measure, row.scenario, row.contender))
        other = by_key.get((row.measure, row.scenario, row.against))
        if mine is None and other is None:
            continue
        value = math.nan
        if mine is not None and other is not None and other.p50 > 0:
            value = mine.p50 / other.p50
        met = ""
        if row.target is not None:
            met = "not run" if math.isnan(value) else ("yes" if value <= row.target else "**no**")
        rows.append(
            [
                row.measure,
                row.scenario,
                f"{row.contender} / {row.against}",
                f"{fmt(mine.p50 if mine else math.nan)} / {fmt(other.p50 if other else math.nan)}",
                "n/a" if math.isnan(value) else f"{value:.2f}x",
                "" if row.target is None else f"≤ {row.target:g}x",
                met,
            ]
        )
    if len(rows) == 1:
        return ""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [
        "| " + " | ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) + " |"
        for row in rows
    ]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)
