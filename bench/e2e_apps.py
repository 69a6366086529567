"""End to end on uvicorn (FastAPI) and Flask: edit the app, time until the new code answers.

A hello app (``bench/app_fixtures.py``) runs under each contender in turn, in the same
run; the bench rewrites ``app.py`` with a new message and polls ``/`` every 10 ms until
the message is served. So each figure includes the notification, the restart (a new
process importing the framework and the app, or a fork of the warm template) and the
first request. One untimed edit comes first. The contenders:

* the framework's own reloader, the anchor: ``uvicorn --reload`` (watchfiles in its
  supervisor, a fresh interpreter per reload), ``flask run --reload`` (werkzeug's
  reloader: watchdog where installed, else its stat reloader);
* ``reloadd run -- CMD`` (cold: each restart is a new interpreter), and
* ``reloadd run --warm -- CMD`` (a restart forks the template), both with a daemon on the
  built-in watcher already running for the project;

and the memory of the warm contender's template beside the cold contender's dev
server (``bench/warm_memory.py``), read after the last edit (for the template, once
the next one had time to be prepared). Without ``--warm`` in this reloadd, the warm rows say "not available".
"""

from __future__ import annotations

import logging
import random
import re
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from bench.app_fixtures import make_app_project, write_app
from bench.app_servers import PAUSE, START_TIMEOUT, AppServer
from bench.environment import BenchEnv
from bench.plan import Plan
from bench.results import (
    FLASK_RELOADER,
    RELOADD_BUILTIN,
    RELOADD_WARM,
    UVICORN_RELOAD,
    Result,
    median,
)
from bench.trees import Tree
from bench.warm_available import run_warm_missing
from bench.warm_memory import server_memory, template_memory
from bench.warm_ratios import FLASK, UVICORN

log = logging.getLogger("bench")

BIN = Path(sys.executable).parent
"""The folder of this interpreter's console scripts (``uvicorn``, ``flask``)."""


@dataclass(frozen=True)
class Contender:
    """One way of running the app: its label, and the command around the server's own."""

    label: str
    reloadd: str | None
    """``"cold"`` or ``"warm"`` for ``reloadd run [--warm]``; None for the framework's reloader."""


CONTENDERS = {
    "fastapi": (
        Contender(UVICORN_RELOAD, None),
        Contender(RELOADD_BUILTIN, "cold"),
        Contender(RELOADD_WARM, "warm"),
    ),
    "flask": (
        Contender(FLASK_RELOADER, None),
        Contender(RELOADD_BUILTIN, "cold"),
        Contender(RELOADD_WARM, "warm"),
    ),
}


def command(framework: str, contender: Contender, project: Path, port: int) -> list[str]:
    """The command line ``contender`` runs the app of ``framework`` with."""
    if framework == "fastapi":
        server = [str(BIN / "uvicorn"), "app:app", "--port", str(port)]
        own_reloader = ["--reload"]
    else:
        server = [str(BIN / "flask"), "--app", "app", "run", "--port", str(port)]
        own_reloader = ["--reload"]
    if contender.reloadd is None:
        return [*server, *own_reloader]
    if framework == "flask":
        server.append("--no-reload")
    run = [sys.executable, "-m", "reloadd.client.cli", "run", "--root", str(project)]
    if contender.reloadd == "warm":
        run.append("--warm")
    return [*run, "--", *server]


@contextmanager
def _daemon_for(env: BenchEnv, project: Path, contender: Contender) -> Iterator[None]:
    """A daemon on the built-in watcher for reloadd's contenders; nothing for the anchors."""
    if contender.reloadd is None:
        yield
        return
    with env.daemon(Tree(project, ()), "builtin"):
        yield


def restart_notes(log: str) -> str:
    """What ``reloadd run``'s restart lines say: restarts forked from the template, stopping time."""
    restarts = re.findall(r"restarted in \d+ ms(, forked from the template)?", log)
    if not restarts:
        return ""
    forked = sum(1 for warm in restarts if warm)
    stopping = [float(ms) for ms in re.findall(r"stopping took (\d+) ms", log)]
    text = f"{forked} of {len(restarts)} restarts forked from the template"
    if stopping:
        text += f"; stopping the old process took {median(stopping):.0f} ms (median)"
    return text


def _edits(
    env: BenchEnv, framework: str, contender: Contender, project: Path, runs: int
) -> tuple[list[float], list[Result], str]:
    """The timed edits (ms) of one contender, the memory results, and notes from its log."""
    from tests.net import free_port

    port = free_port()
    write_app(project, framework, "hello v0")
    tag = f"{framework}-{contender.reloadd or 'own'}"
    server = AppServer(
        command(framework, contender, project, port),
        cwd=project,
        port=port,
        env=dict(env.env, PYTHONUNBUFFERED="1"),
        log_path=env.logs / f"{tag}.log",
    )
    rng = random.Random(runs)
    timings: list[float] = []
    memory: list[Result] = []
    with _daemon_for(env, project, contender), server:
        server.wait_for(lambda body: "hello v0" in body, START_TIMEOUT)
        body = ""
        for run in range(runs + 1):
            time.sleep(rng.uniform(PAUSE, 2 * PAUSE))
            # The length changes at each edit: a bytecode cache is never taken for current.
            message = f"{tag} edit {run}" + "!" * run
            started = time.monotonic()
            write_app(project, framework, message)
            body = server.wait_for(lambda text, m=message: f"{m} pid=" in text)  # type: ignore[misc]
            if run > 0:
                timings.append((time.monotonic() - started) * 1000)
        serving = server.serving_pid(body)
        scenario = f"{'uvicorn + FastAPI' if framework == 'fastapi' else 'Flask'} hello app"
        if contender.reloadd == "warm" and serving is not None:
            time.sleep(2 * PAUSE)  # the next template is prepared after each fork
            memory = template_memory(server.pid, serving, scenario)
        elif contender.reloadd == "cold" and serving is not None:
            memory = server_memory(serving, scenario)
    return timings, memory, restart_notes(server.log())


def _result(measure: tuple[str, str], label: str, timings: list[float], notes: str) -> Result:
    note = ""
    if timings:
        note = f"range {min(timings):.0f}-{max(timings):.0f} ms over {len(timings)} edits"
    if notes:
        note += f"; {notes}"
    return Result(measure[0], measure[1], label, median(timings), samples=len(timings), note=note)


def run_framework(env: BenchEnv, plan: Plan, framework: str) -> list[Result]:
    """Every contender of ``framework`` on one project, one after the other."""
    measure = UVICORN if framework == "fastapi" else FLASK
    project = make_app_project(env.base, framework)
    env.watch(project)
    results: list[Result] = []
    for contender in CONTENDERS[framework]:
        missing = run_warm_missing() if contender.reloadd == "warm" else None
        if missing is not None:
            log.info("%s: %s not available: %s", framework, contender.label, missing)
            results.append(
                Result(*measure, contender.label, float("nan"), note=f"not available: {missing}")
            )
            continue
        try:
            timings, memory, notes = _edits(env, framework, contender, project, plan.e2e_runs)
        except RuntimeError as exc:
            # One contender that never serves an edit must not cost the others' results.
            reason = str(exc).splitlines()[0]
            log.warning("%s: %s failed: %s", framework, contender.label, reason)
            results.append(
                Result(*measure, contender.label, float("nan"), note=f"failed: {reason}")
            )
            continue
        results.append(_result(measure, contender.label, timings, notes))
        results += memory
    return results


def run_uvicorn(env: BenchEnv, plan: Plan) -> list[Result]:
    """FastAPI under ``uvicorn --reload``, ``reloadd run`` and ``reloadd run --warm``."""
    return run_framework(env, plan, "fastapi")


def run_flask(env: BenchEnv, plan: Plan) -> list[Result]:
    """Flask under its own reloader, ``reloadd run`` and ``reloadd run --warm``."""
    return run_framework(env, plan, "flask")
