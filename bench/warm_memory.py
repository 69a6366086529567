"""The warm template's memory beside the dev server's, read from ``/proc`` while both run.

Below the supervisor (``reloadd run``, or ``runserver``'s first process) run the dev
server (the process that answered the last request, and whatever it started) and the
template, possibly with a fork server or a template being prepared: every other
process below the supervisor, reloadd daemons aside, counts as the template. Two
figures each: RSS (``VmRSS``: every page the process maps, shared ones included) and
PSS (``Pss`` of ``smaps_rollup``: each shared page divided among the processes that map
it; the template and its forks share every page neither wrote since the fork).
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


def template_memory(supervisor: int, server: int, scenario: str) -> list[Result]:
    """RSS and PSS of the template process(es) and of the serving process, as results."""
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
    note = f"{len(template)} process(es) besides the server: " + ", ".join(
        command_line(pid)[:60] for pid in template
    )
    results = [
        Result(RSS, scenario, RELOADD_TEMPLATE, template_rss, target_p50=server_rss, note=note),
        Result(RSS, scenario, ONE_SERVER, server_rss),
    ]
    if template_pss is not None and server_pss is not None:
        results.append(Result(PSS, scenario, RELOADD_TEMPLATE, template_pss))
        results.append(Result(PSS, scenario, ONE_SERVER, server_pss))
    return results
