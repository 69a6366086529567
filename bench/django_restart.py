"""Django's ``runserver`` during a restart: refused connections and the time the page is unreachable.

A project made by ``django-admin startproject`` (``tests/django_project.py``) runs under
``manage.py runserver``. For each edit of ``pages/views.py`` a thread requests ``/``
every 10 ms, each on a new connection, from the save until the new page is served.
Per restart: how many connections were refused (or cut), and how long the page was
unreachable (from the first failed request to the first answer after it; 0 when none
failed). reloadd keeps the socket across restarts (``reloadd.client.django`` in
``INSTALLED_APPS``, built-in backend, a daemon already running); stock ``runserver``
is the same project with ``RELOADD_DJANGO=0`` (Django's StatReloader, which binds the
port again in every new process). The slowest answer is given in the note: with the
kept socket a request made during the restart waits for the new process.
"""

from __future__ import annotations

import random
import threading
import time
from pathlib import Path

from bench.environment import BenchEnv
from bench.lineup import LINEUP, Entry, shared_processes
from bench.plan import Plan
from bench.results import Result, median
from bench.trees import Tree

REFUSED = "Django restart: connections refused per restart"
UNREACHABLE = "Django restart: page unreachable per restart (ms)"
INTERVAL = 0.01
"""Seconds between two requests."""
PAUSE = 1.0
"""Shortest pause between two edits, in seconds (drawn between it and twice it)."""


class _Prober:
    """Requests ``/`` every :data:`INTERVAL` seconds; keeps (time, ok, seconds taken, body)."""

    def __init__(self, server: object) -> None:
        self.server = server
        self.samples: list[tuple[float, bool, float, str]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> _Prober:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join(60)

    def _run(self) -> None:
        from tests.django_project import request

        while not self._stop.is_set():
            started = time.monotonic()
            outcome = request(self.server)  # type: ignore[arg-type]
            self.samples.append(
                (started, not outcome.failure, time.monotonic() - started, outcome.body)
            )
            self._stop.wait(INTERVAL)


def _restarts(
    env: BenchEnv, entry: Entry, project: Path, runs: int
) -> list[tuple[int, float, float]]:
    """Per edit: (refused, unreachable ms, slowest answer ms)."""
    from tests.django_project import DevServer, server_environment, view_source

    server = DevServer(
        project,
        env.logs / f"runserver-restart-{entry.kind}.log",
        env=server_environment(project, RELOADD_DJANGO="1" if entry.backend else "0"),
    )
    views = project / "pages" / "views.py"
    views.write_text(view_source("hello v0"))
    server.start()
    figures: list[tuple[int, float, float]] = []
    rng = random.Random(runs)
    try:
        server.wait_ready()
        for run in range(runs + 1):
            time.sleep(rng.uniform(PAUSE, 2 * PAUSE))
            message = f"{entry.kind} restart {run}"
            with _Prober(server) as prober:
                views.write_text(view_source(message))
                server.wait_for_page("/", lambda body, m=message: m in body)  # type: ignore[misc]
            if run > 0:
                figures.append(_figures(prober.samples, message))
    finally:
        server.stop()
    return figures


def _figures(
    samples: list[tuple[float, bool, float, str]], message: str
) -> tuple[int, float, float]:
    refused = sum(1 for _, ok, _, _ in samples if not ok)
    first_failed = next((at for at, ok, _, _ in samples if not ok), None)
    unreachable = 0.0
    if first_failed is not None:
        back = next((at + took for at, ok, took, _ in samples if ok and at > first_failed), None)
        unreachable = ((back or samples[-1][0]) - first_failed) * 1000
    slowest = max((took for _, ok, took, _ in samples if ok), default=0.0) * 1000
    return refused, unreachable, slowest


def run(env: BenchEnv, plan: Plan) -> list[Result]:
    """reloadd (built-in backend) and stock ``runserver`` (StatReloader), same project, same run."""
    from tests.django_project import make_project

    project = make_project(env.base / "django-restart-project", reloadd=True)
    as_tree = Tree(project, ())
    results: list[Result] = []
    for entry in LINEUP:
        if (entry.kind, entry.backend) not in (("reloadd", "builtin"), ("stat", None)):
            continue
        with shared_processes(env, entry, as_tree):
            figures = _restarts(env, entry, project, plan.e2e_runs)
        refused = [float(f[0]) for f in figures]
        unreachable = [f[1] for f in figures]
        slowest = max(f[2] for f in figures)
        note = f"{len(figures)} restarts; slowest answer {slowest:.0f} ms"
        results.append(
            Result(
                REFUSED,
                "startproject + 1 app",
                entry.label,
                median(refused),
                samples=len(figures),
                note=f"{note}; range {min(refused):.0f}-{max(refused):.0f}",
            )
        )
        results.append(
            Result(
                UNREACHABLE,
                "startproject + 1 app",
                entry.label,
                median(unreachable),
                samples=len(figures),
                note=f"{note}; range {min(unreachable):.0f}-{max(unreachable):.0f} ms",
            )
        )
    return results
