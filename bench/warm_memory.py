"""The warm template's memory beside one dev server's, read from ``/proc`` while they run.

Below the supervisor (``reloadd run``, or ``runserver``'s first process) run the dev
server (the process that answered the last request, and whatever it started) and the
template: every other process below the supervisor, reloadd daemons aside, counts as
the template. What it is compared with is one more dev server as it costs today: the
serving process of the cold contender (``reloadd run`` without ``--warm``), same app,
same run (:func:`server_memory`). Two figures each: RSS (``VmRSS``: every page the
process maps, shared ones included) and PSS (``Pss`` of ``smaps_rollup``: each shared
page divided among the processes that map it; a template and the fork it made share
the pages neither wrote since).
"""

from __future__ import annotations

from bench.procinfo import command_line, descendants, pss_mb, rss_mb
from bench.results import ONE_SERVER, RELOADD_TEMPLATE, Result
from bench.warm_ratios import PSS, RSS


def _sizes(pids: list[int]) -> tuple[float, float | None]:
    rss = 0.0
    pss: float | None = 0.0
    for pid in pids:
        try:
            rss += rss_mb(pid)
        except (OSError, ValueError):
            continue
        one = pss_mb(pid)
        pss = None if pss is None or one is None else pss + one
    return rss, pss


def _pss_text(pss: float | None) -> str:
    return "PSS not readable" if pss is None else f"PSS {pss:.1f} MB"


def template_memory(supervisor: int, server: int, scenario: str) -> list[Result]:
    """RSS and PSS of the template process(es), with the warm server's own in the note."""
    serving = [server, *descendants(server)]
    template = [
        pid
        for pid in descendants(supervisor)
        if pid not in serving and "reloadd.client.cli serve" not in command_line(pid)
    ]
    server_rss, server_pss = _sizes(serving)
    if not template:
        note = "no template process was found below the supervisor"
        return [Result(RSS, scenario, RELOADD_TEMPLATE, float("nan"), note=note)]
    template_rss, template_pss = _sizes(template)
    note = (
        f"{len(template)} template process(es); the warm server beside it: RSS "
        f"{server_rss:.1f} MB, {_pss_text(server_pss)}"
    )
    results = [Result(RSS, scenario, RELOADD_TEMPLATE, template_rss, note=note)]
    if template_pss is not None:
        results.append(Result(PSS, scenario, RELOADD_TEMPLATE, template_pss))
    return results


def server_memory(server: int, scenario: str) -> list[Result]:
    """RSS and PSS of one cold-started dev server (the serving process and what it started)."""
    rss, pss = _sizes([server, *descendants(server)])
    results = [Result(RSS, scenario, ONE_SERVER, rss)]
    if pss is not None:
        results.append(Result(PSS, scenario, ONE_SERVER, pss))
    return results
