"""End to end on real Django: edit a view, time until ``runserver`` serves the new page.

A project made by ``django-admin startproject`` (see ``tests/django_project.py``) runs
under ``manage.py runserver``; the bench rewrites ``pages/views.py`` with a new message
and polls ``/`` every 10 ms until the message is served. So each run includes the
notification, Django's restart (a new process importing Django, the settings and the
URLs) and the first request. reloadd runs through its Django integration
(``reloadd.client.django`` in ``INSTALLED_APPS``) with a daemon that already runs for
the project; warm (``RELOADD_WARM=1``: each new server process is a fork of a
template that has imported Django) on the built-in watcher; Django's own reloaders
with ``RELOADD_DJANGO=0``: the WatchmanReloader with ``WATCHMAN_SOCK`` pointing at the
private Watchman, the StatReloader with no Watchman to reach. One untimed edit comes
first. Every server writes bytecode (as after ``pip install``; the message's length
changes at each edit, so no stale ``.pyc`` is taken). The warm contender's template
memory, and the cold contender's (built-in) server's, are read after the last edit
(``bench/warm_memory.py``). Not measured: watchfiles (django-watchfiles is not
installed) and raw pywatchman (not a Django reloader).
"""

from __future__ import annotations

import logging
import math
import random
import time
from pathlib import Path

from bench.environment import BenchEnv
from bench.lineup import LINEUP, Entry, shared_processes
from bench.plan import Plan
from bench.results import RELOADD_BUILTIN, RELOADD_WARM, Result, median
from bench.trees import Tree
from bench.warm_available import django_warm_missing
from bench.warm_memory import server_memory, template_memory
from bench.warm_ratios import DJANGO

MEASURE, SCENARIO = DJANGO
MEMORY = "Django startproject"
"""The scenario of the memory results."""
WARM = Entry(RELOADD_WARM, "reloadd", "builtin")
"""``RELOADD_WARM=1`` with the Django integration, on the built-in watcher."""
log = logging.getLogger("bench")

PAUSE = 1.0
"""Shortest pause between two edits, in seconds (the restarted server settles); the
pause is drawn between it and twice it, so that StatReloader's 1 s ticks do not line
up with the edits."""


def _serve_and_edit(
    env: BenchEnv, entry: Entry, project: Path, runs: int
) -> tuple[list[float], list[Result], str]:
    """The timed edits (ms), the memory results, and (warm) how many restarts were forks."""
    from tests.django_project import DevServer, server_environment, view_source

    warm = entry is WARM
    # PYTHONDONTWRITEBYTECODE (set by server_environment) off: with the bench's
    # PYTHONPYCACHEPREFIX, it would have every server compile Django again.
    extra = {"RELOADD_DJANGO": "1" if entry.backend else "0", "PYTHONDONTWRITEBYTECODE": ""}
    if warm:
        extra["RELOADD_WARM"] = "1"
    if entry.kind == "django-watchman":
        extra["WATCHMAN_SOCK"] = env.watchman.sockpath
    server_env = server_environment(project, **extra)
    tag = f"{entry.kind}-{entry.backend}{'-warm' if warm else ''}"
    server = DevServer(project, env.logs / f"runserver-{tag}.log", env=server_env)
    (project / "pages" / "views.py").write_text(view_source("hello v0"))
    server.start()
    timings: list[float] = []
    memory: list[Result] = []
    rng = random.Random(runs)
    try:
        server.wait_ready()
        body = ""
        for run in range(runs + 1):
            time.sleep(rng.uniform(PAUSE, 2 * PAUSE))
            message = f"{tag} edit {run}" + "!" * run
            started = time.monotonic()
            (project / "pages" / "views.py").write_text(view_source(message))
            body = server.wait_for_page("/", lambda text, m=message: f"{m} pid=" in text)  # type: ignore[misc]
            if run > 0:
                timings.append((time.monotonic() - started) * 1000)
        if warm and server.process is not None:
            time.sleep(2 * PAUSE)  # the next template is prepared after each fork
            memory = template_memory(server.process.pid, server.pid_of(body), MEMORY)
        elif entry.label == RELOADD_BUILTIN:
            memory = server_memory(server.pid_of(body), MEMORY)
    finally:
        server.stop()
    forks = server.log().count("reloadd: warm start: server process")
    return (
        timings,
        memory,
        f"{forks} of {runs + 1} restarts forked from the template" if warm else "",
    )


def lineup() -> list[Entry]:
    """reloadd cold on both backends, reloadd warm, StatReloader, WatchmanReloader."""
    entries = [e for e in LINEUP if e.kind in ("reloadd", "stat", "django-watchman")]
    cold = next(i for i, e in enumerate(entries) if e.label == RELOADD_BUILTIN)
    entries.insert(cold + 1, WARM)
    return entries


def run(env: BenchEnv, plan: Plan) -> list[Result]:
    """Every contender of :func:`lineup` on one project, one after the other."""
    from tests.django_project import make_project

    project = make_project(env.base / "django-project", reloadd=True)
    (project / ".watchmanconfig").write_text("{}\n")
    env.watch(project)
    as_tree = Tree(project, ())
    results: list[Result] = []
    for entry in lineup():
        missing = django_warm_missing() if entry is WARM else None
        if missing is not None:
            log.info("Django: %s not available: %s", entry.label, missing)
            results.append(
                Result(MEASURE, SCENARIO, entry.label, math.nan, note=f"not available: {missing}")
            )
            continue
        try:
            with shared_processes(env, entry, as_tree):
                timings, memory, forks = _serve_and_edit(env, entry, project, plan.e2e_runs)
        except (AssertionError, RuntimeError) as exc:
            # One contender that never serves an edit must not cost the others' results.
            reason = str(exc).splitlines()[0]
            log.warning("Django: %s failed: %s", entry.label, reason)
            results.append(
                Result(MEASURE, SCENARIO, entry.label, math.nan, note=f"failed: {reason}")
            )
            continue
        note = f"range {min(timings):.0f}-{max(timings):.0f} ms over {len(timings)} edits"
        results.append(
            Result(
                MEASURE,
                SCENARIO,
                entry.label,
                median(timings),
                samples=len(timings),
                note=f"{note}; {forks}" if forks else note,
            )
        )
        results += memory
    return results
