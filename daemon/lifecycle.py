"""``state``: what each dev server reports of its life (starting, ready, crashed, stopped).

The state belongs to the registration, which outlives the dev server's restarts. So
does the *cause* of a restart: the daemon notes when it last told a registration of a
change (or sent it ``restart``), and a ``ready`` after that is timed from it, unless
the client measured its restart itself. That makes the registration's last reload
(``status``) and the ``state`` event's ``duration_ms``.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

from reloadd.daemon.context import DaemonContext
from reloadd.daemon.events import bounded_paths
from reloadd.daemon.registry import ClientId, ClientRecord
from reloadd.protocol import Event, EventKind, Message, ReloadInfo, ServerState, StateReport
from reloadd.protocol.limits import MAX_RELOAD_PATHS


def note_cause(record: ClientRecord, at: float, paths: Iterable[str] = ()) -> None:
    """The daemon told this registration of ``paths`` (or asked it to restart) at ``at``."""
    record.cause_paths, record.cause_omitted = bounded_paths(paths, MAX_RELOAD_PATHS)
    record.cause_at = at


def handle_state(ctx: DaemonContext, identity: ClientId, report: StateReport) -> list[Message]:
    """Record the client's new state on its registration, and tell subscribers."""
    record = ctx.registered(identity, report)
    now = time.time()
    record.state = report.state
    record.state_since = now
    record.error = report.error
    duration_ms = report.duration_ms
    if report.state is ServerState.READY:
        duration_ms = _ready(record, now, duration_ms)
    elif report.state is ServerState.CRASHED:
        record.last_error, record.last_error_at = report.error, now
    ctx.events.emit(
        Event(
            event=EventKind.STATE,
            time=now,
            client=record.name,
            pid=record.pid,
            role=record.role,
            state=report.state,
            duration_ms=duration_ms,
            error=report.error,
        )
    )
    return []


def _ready(record: ClientRecord, now: float, own_ms: int | None) -> int | None:
    """The restart's duration (the client's own, else from its cause); its last reload noted."""
    if not record.cause_at:
        return own_ms
    duration_ms = own_ms if own_ms is not None else max(0, round((now - record.cause_at) * 1000))
    record.last_reload = ReloadInfo(
        at=record.cause_at,
        duration_ms=duration_ms,
        paths=record.cause_paths,
        omitted=record.cause_omitted,
    )
    record.cause_at, record.cause_paths, record.cause_omitted = 0.0, (), 0
    return duration_ms
