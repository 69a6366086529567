"""What a measure produces, and the one table that shows reloadd beside each anchor.

Every measure returns :class:`Result` rows. The table has one line per reloadd result
(a measure, a scenario, a backend) with its target, and one column per anchor giving
that anchor's value in the same scenario and reloadd's ratio to it (< 1 is better for
reloadd: every quantity here is a time, a CPU share or a size).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass

RELOADD_WATCHMAN = "reloadd (Watchman)"
RELOADD_BUILTIN = "reloadd (built-in)"
STAT = "StatReloader"
DJANGO_WATCHMAN = "WatchmanReloader"
WATCHFILES = "watchfiles"
PYWATCHMAN = "pywatchman (floor)"
RELOADD_CLIENT = "reloadd (client)"
RELOADD_REPORT_WATCHMAN = "reloadd (Watchman, save report)"
RELOADD_REPORT_BUILTIN = "reloadd (built-in, save report)"
"""An editor reports each save over a persistent connection (the daemon's backend in brackets)."""
RELOADD_WARM = "reloadd warm (built-in)"
"""A restart forks the warm template (``reloadd run --warm``, ``RELOADD_WARM=1`` for Django)."""
RELOADD_TEMPLATE = "reloadd warm template"
"""The template process(es) ``--warm`` keeps beside the dev server (memory)."""
UVICORN_RELOAD = "uvicorn --reload"
FLASK_RELOADER = "flask run --reload"
ONE_SERVER = "one dev server"
"""The serving process of a cold start (memory): what the template is compared with."""
DBR_STAT = "django-browser-reload (StatReloader)"
DBR_WATCHMAN = "django-browser-reload (WatchmanReloader)"
"""django-browser-reload in the page, Django's own reloader under ``runserver``."""

RELOADD = (
    RELOADD_WATCHMAN,
    RELOADD_BUILTIN,
    RELOADD_WARM,
    RELOADD_TEMPLATE,
    RELOADD_CLIENT,
    RELOADD_REPORT_WATCHMAN,
    RELOADD_REPORT_BUILTIN,
)
ANCHORS = (
    STAT,
    DJANGO_WATCHMAN,
    WATCHFILES,
    PYWATCHMAN,
    UVICORN_RELOAD,
    FLASK_RELOADER,
    ONE_SERVER,
    DBR_STAT,
    DBR_WATCHMAN,
)
"""Every anchor, in column order; a table shows only those its results hold."""


@dataclass(frozen=True)
class Result:
    """One quantity for one contender in one scenario."""

    measure: str
    """What is measured, with its unit, e.g. ``save → notified (ms)``."""
    scenario: str
    """The conditions, e.g. ``20,000 files``; anchors compare within the same scenario."""
    contender: str
    p50: float
    p99: float | None = None
    samples: int = 1
    target_p50: float | None = None
    target_p99: float | None = None
    note: str = ""

    @property
    def met(self) -> bool | None:
        """Whether the target holds (None where there is none)."""
        if self.target_p50 is None and self.target_p99 is None:
            return None
        ok = self.target_p50 is None or self.p50 <= self.target_p50
        if self.target_p99 is not None and self.p99 is not None:
            ok = ok and self.p99 <= self.target_p99
        return ok


def median(values: Sequence[float]) -> float:
    """The median (NaN for no values)."""
    return percentile(values, 50)


def percentile(values: Sequence[float], pct: float) -> float:
    """The ``pct`` percentile by the nearest-rank method (NaN for no values)."""
    if not values:
        return math.nan
    ordered = sorted(values)
    if pct == 50 and len(ordered) % 2 == 0:
        middle = len(ordered) // 2
        return (ordered[middle - 1] + ordered[middle]) / 2
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[rank - 1]


def fmt(value: float | None) -> str:
    """A number with about three significant digits."""
    if value is None:
        return ""
    if math.isnan(value):
        return "n/a"
    if value == 0:
        return "0"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    if abs(value) >= 1:
        return f"{value:.2f}"
    return f"{value:.3f}"


def _value(result: Result) -> str:
    text = fmt(result.p50)
    if result.p99 is not None:
        text += f" / {fmt(result.p99)}"
    return text


def _target(result: Result) -> str:
    parts = [f"≤ {t:g}" for t in (result.target_p50, result.target_p99) if t is not None]
    return " / ".join(parts)


def _anchor_cell(reloadd: Result, anchor: Result | None) -> str:
    if anchor is None:
        return ""
    text = _value(anchor)
    if anchor.p50 > 0 and math.isfinite(anchor.p50) and not math.isnan(reloadd.p50):
        text += f" ({reloadd.p50 / anchor.p50:.2g}x)"
    return text


def _short(contender: str) -> str:
    """A reloadd contender without the word reloadd: ``Watchman``, ``warm (built-in)``."""
    if contender.startswith("reloadd (") and contender.endswith(")"):
        return contender.removeprefix("reloadd (").removesuffix(")")
    return contender.removeprefix("reloadd ")


def table(results: Iterable[Result]) -> str:
    """The Markdown table of every reloadd result beside the anchors of its scenario.

    An anchor with no result in this run gets no column.
    """
    results = list(results)
    by_key = {(r.measure, r.scenario, r.contender): r for r in results}
    present = {r.contender for r in results}
    anchors = [anchor for anchor in ANCHORS if anchor in present]
    header = ["measure", "scenario", "reloadd backend", "p50 / p99", "target", "met"]
    header += [f"{anchor} (ratio)" for anchor in anchors]
    rows = [header]
    seen: set[tuple[str, str, str]] = set()
    for result in results:
        key = (result.measure, result.scenario, result.contender)
        if result.contender not in RELOADD or key in seen:
            continue
        seen.add(key)
        met = {None: "", True: "yes", False: "**no**"}[result.met]
        row = [
            result.measure,
            result.scenario,
            _short(result.contender),
            _value(result),
            _target(result),
            met,
        ]
        row += [
            _anchor_cell(result, by_key.get((result.measure, result.scenario, anchor)))
            for anchor in anchors
        ]
        rows.append(row)
    # Scenarios measured only for anchors (none for reloadd) still deserve a line.
    for measure, scenario in dict.fromkeys((r.measure, r.scenario) for r in results):
        if any((measure, scenario, c) in by_key for c in RELOADD):
            continue
        row = [measure, scenario, "—", "", "", ""]
        row += [
            _value(by_key[(measure, scenario, a)]) if (measure, scenario, a) in by_key else ""
            for a in anchors
        ]
        rows.append(row)
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = [
        "| " + " | ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) + " |"
        for row in rows
    ]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def notes(results: Iterable[Result]) -> list[str]:
    """The notes attached to results, one line each."""
    return [f"{r.contender}, {r.measure}, {r.scenario}: {r.note}" for r in results if r.note]


def to_json(results: Iterable[Result]) -> str:
    """Every result as a JSON list (for keeping raw numbers next to the table)."""
    return json.dumps([{**asdict(r), "met": r.met} for r in results], indent=1)
