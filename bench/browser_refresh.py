"""The browser refreshes itself: save a template, a view, a stylesheet; time what the page shows.

Real ``manage.py runserver`` processes on a ``startproject`` project
(``bench/browser_project.py``) and a real headless Chromium (``bench/chromium.py``)
showing ``/browser/``. For each contender the bench saves, in turns, the template, the
stylesheet and the view module, each to a new value, and takes the time from the write
to the moment the page shows it: the new text in the DOM (the page reloaded and parsed
it), or the new computed colour. The page records those moments itself
(``bench/page_probe.py``; the edits and their waits are ``bench/browser_session.py``); the write's time is put on the page's clock, so WebDriver's
round trips are in no timing. Per edit it also counts the documents the tab loaded
(a stylesheet swapped in place loads none, and a JS marker set on ``window`` before the
save survives) and, from DevTools events, the navigations that failed (a refused
connection, a 5xx answer, Chromium's error page).

Contenders, each in its own project and Chromium, one after the other in the same run:
reloadd's ``BrowserReloadMiddleware`` with reloadd's Django integration on a daemon
already running for the project (built-in and Watchman backends), and the anchor,
django-browser-reload (app, middleware, URL include) on Django's own reloader: the
StatReloader (Django's default without pywatchman) and the WatchmanReloader (with
pywatchman and the private Watchman). The first round of edits is untimed; pauses
between edits are drawn between :data:`PAUSE` and twice it, so no polling period lines
up with the edits. reloadd's targets (issue 19): template ≤ 0.5 x django-browser-reload
(StatReloader, Django's default) and under 100 ms; view ≤ 1 x with no error page; CSS
with no navigation.
"""

from __future__ import annotations

import logging
import math
import random
import time
from dataclasses import dataclass, replace

from bench.browser_project import PAGE, BrowserProject, reloadd_middleware_missing
from bench.browser_session import SHOW_TIMEOUT, Edit, PageSession
from bench.chromium import Chromium
from bench.environment import BenchEnv
from bench.lineup import LINEUP, Entry, shared_processes
from bench.plan import Plan
from bench.results import (
    DBR_STAT,
    DBR_WATCHMAN,
    RELOADD_BUILTIN,
    RELOADD_WATCHMAN,
    Result,
    median,
    percentile,
)
from bench.trees import Tree

log = logging.getLogger("bench")

TEMPLATE = "browser: save template → page shows it (ms)"
VIEW = "browser: save view → page shows new response (ms)"
VIEW_ERRORS = "browser: save view → error pages landed on (all edits)"
CSS = "browser: save CSS → new style applied (ms)"
CSS_NAVIGATIONS = "browser: save CSS → page loads (all edits)"
SCENARIO = "startproject, headless Chromium"

EDITS = ("template", "css", "view")
"""The kinds of edit, in the order each round makes them."""

PAUSE = 1.0
"""Shortest pause between two edits, in seconds (drawn between it and twice it)."""

TEMPLATE_TARGET_MS = 100.0
TEMPLATE_TARGET_RATIO = 0.5
VIEW_TARGET_RATIO = 1.0


@dataclass(frozen=True)
class Contender:
    """One set-up: its label, the tool in the page, and the reloader under ``runserver``."""

    label: str
    tool: str
    """``reloadd`` or ``django-browser-reload``."""
    entry: Entry
    """The lineup entry: reloadd's backend, or Django's reloader (``stat``/``django-watchman``)."""

    @property
    def slug(self) -> str:
        """A name for its folders and logs."""
        return f"{self.tool}-{self.entry.kind}-{self.entry.backend or 'django'}"


def _entry(kind: str, backend: str | None) -> Entry:
    return next(e for e in LINEUP if e.kind == kind and e.backend == backend)


CONTENDERS = (
    Contender(RELOADD_BUILTIN, "reloadd", _entry("reloadd", "builtin")),
    Contender(RELOADD_WATCHMAN, "reloadd", _entry("reloadd", "watchman")),
    Contender(DBR_STAT, "django-browser-reload", _entry("stat", None)),
    Contender(DBR_WATCHMAN, "django-browser-reload", _entry("django-watchman", None)),
)


def _measure(env: BenchEnv, contender: Contender, project: BrowserProject, runs: int) -> list[Edit]:
    from tests.django_project import DevServer, server_environment

    extra = {"RELOADD_DJANGO": "1" if contender.tool == "reloadd" else "0"}
    if contender.entry.kind == "django-watchman":
        extra["WATCHMAN_SOCK"] = env.watchman.sockpath
    server = DevServer(
        project.root,
        env.logs / f"runserver-browser-{contender.slug}.log",
        env=server_environment(project.root, **extra),
    )
    server.start()
    rng = random.Random(runs)
    try:
        server.wait_ready(PAGE)
        with Chromium(env.logs) as chromium:
            trace = env.logs / f"browser-{contender.slug}.jsonl"
            session = PageSession(chromium, project, f"http://{server.address}{PAGE}", trace)
            session.open()
            red = 1
            for run in range(runs + 1):
                for kind in EDITS:
                    time.sleep(rng.uniform(PAUSE, 2 * PAUSE))
                    red += 1
                    value = {"template": f"template {run + 1}", "view": f"view {run + 1}"}
                    session.edit(kind, value.get(kind, str(red)), timed=run > 0)
            time.sleep(2 * PAUSE)
            session.finish()
            return session.edits
    finally:
        server.stop()


def _time_result(measure: str, label: str, edits: list[Edit], kind: str) -> Result:
    """p50 of the timed edits of ``kind``; an edit never shown counts as infinitely slow."""
    mine = [e for e in edits if e.kind == kind and e.timed]
    times = [math.inf if e.shown_ms is None else e.shown_ms for e in mine]
    shown = [t for t in times if t != math.inf]
    reloads = [e.documents for e in mine]
    note = (
        f"p90 {percentile(times, 90):.0f} ms, range "
        f"{min(shown, default=math.nan):.0f}-{max(shown, default=math.nan):.0f} ms over "
        f"{len(mine)} edits; page loads per edit {min(reloads)}-{max(reloads)}"
    )
    navigated = [
        e.navigated_ms for e in mine if e.shown_ms is not None and e.navigated_ms is not None
    ]
    if navigated and kind != "css":
        note += f"; save → reload started p50 {median(navigated):.0f} ms"
    missed = len(times) - len(shown)
    if missed:
        note += f"; {missed} never shown within {SHOW_TIMEOUT:.0f} s (counted as infinite)"
    if kind == "css":
        kept = sum(1 for e in mine if e.marker_kept)
        note += f"; JS marker kept in {kept} of {len(mine)}"
    return Result(measure, SCENARIO, label, median(times), samples=len(times), note=note)


def _results(label: str, edits: list[Edit]) -> list[Result]:
    views = [e for e in edits if e.kind == "view" and e.timed]
    landed = sum(e.failures.landed for e in views)
    reasons = sorted({r for e in views for r in e.failures.reasons})
    streams = sum(e.failures.event_streams_failed for e in views)
    css = [e for e in edits if e.kind == "css" and e.timed]
    return [
        _time_result(TEMPLATE, label, edits, "template"),
        _time_result(VIEW, label, edits, "view"),
        Result(
            VIEW_ERRORS,
            SCENARIO,
            label,
            float(landed),
            samples=len(views),
            note=f"{len(views)} edits; failed document loads: {', '.join(reasons) or 'none'}; "
            f"the page's own EventSource requests that failed: {streams}",
        ),
        Result(
            CSS_NAVIGATIONS,
            SCENARIO,
            label,
            float(sum(e.documents for e in css)),
            samples=len(css),
        ),
        _time_result(CSS, label, edits, "css"),
    ]


def _with_targets(results: list[Result]) -> list[Result]:
    """reloadd's rows with issue 19's targets, from the default anchor's values of this run."""
    anchor = {r.measure: r.p50 for r in results if r.contender == DBR_STAT}
    targets = {
        TEMPLATE: min(TEMPLATE_TARGET_MS, TEMPLATE_TARGET_RATIO * anchor.get(TEMPLATE, math.inf)),
        VIEW: VIEW_TARGET_RATIO * anchor.get(VIEW, math.nan),
        VIEW_ERRORS: 0.0,
        CSS_NAVIGATIONS: 0.0,
    }
    done = []
    for result in results:
        target = targets.get(result.measure)
        mine = result.contender in (RELOADD_BUILTIN, RELOADD_WATCHMAN)
        if mine and target is not None and not math.isnan(target) and not math.isnan(result.p50):
            result = replace(result, target_p50=round(target, 1 if target < 100 else 0))
        done.append(result)
    return done


def run(env: BenchEnv, plan: Plan) -> list[Result]:
    """Every contender of :data:`CONTENDERS`, one after the other, in the same run."""
    results: list[Result] = []
    for contender in CONTENDERS:
        project = BrowserProject(env.base / f"browser-{contender.slug}", contender.tool)
        if contender.tool == "reloadd":
            missing = reloadd_middleware_missing(env.env, project.root)
            if missing is not None:
                log.info("browser: %s not available (%s)", contender.label, missing)
                results += _unavailable(contender.label, missing)
                continue
        if contender.entry.uses_watchman:
            env.watch(project.root)
        log.info("browser: %s, %d rounds of edits", contender.label, plan.browser_edits)
        with shared_processes(env, contender.entry, Tree(project.root, ())):
            edits = _measure(env, contender, project, plan.browser_edits)
        results += _results(contender.label, edits)
    return _with_targets(results)


def _unavailable(label: str, why: str) -> list[Result]:
    return [
        Result(
            measure,
            SCENARIO,
            label,
            math.nan,
            samples=0,
            note="" if index else f"not available: {why}",
        )
        for index, measure in enumerate((TEMPLATE, VIEW, VIEW_ERRORS, CSS_NAVIGATIONS, CSS))
    ]
