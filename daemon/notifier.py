"""Changes to notifications: the backend's batches and editors' save reports, routed to clients.

Which paths changed comes from the :class:`ChangeHistory`; which client wants
which path from the :class:`Registry`; what a client was already told about a
file, in which state, from its record's ``told`` (written only here).
"""

from __future__ import annotations

import logging
import sys
import time
from dataclasses import replace

from reloadd.daemon.backends.base import ChangeBatch
from reloadd.daemon.context import DaemonContext, label
from reloadd.daemon.events import bounded_paths
from reloadd.daemon.history import ChangeHistory
from reloadd.daemon.lifecycle import note_cause
from reloadd.daemon.registry import ClientId, ClientRecord
from reloadd.protocol import Event, EventKind, Message, Noted, Saved

log = logging.getLogger("reloadd.daemon")


def on_batch(ctx: DaemonContext, batch: ChangeBatch) -> None:
    """A batch from the backend: record it, and tell each client of its own changed files."""
    at = time.time()
    # The change log keeps these paths for minutes: one shared string per path, however
    # often it changes, not a fresh copy per event (2,000 long paths rewritten 40 times
    # took 300 MB).
    batch = replace(batch, paths=frozenset(map(sys.intern, batch.paths)))
    changed = ctx.history.observe(batch, at)
    if batch.rescan_roots:
        log.info(
            "rescanned %s: %d registered files really changed",
            ", ".join(map(str, sorted(batch.rescan_roots))),
            len(changed - batch.paths),
        )
    notify(ctx, changed, at)


def handle_saved(ctx: DaemonContext, identity: ClientId, saved: Saved) -> list[Message]:
    """An editor's save report: the backend's next batch, handled now.

    The backend reports the same writes a little later; the history drops them then.
    """
    record = ctx.registered(identity, saved)
    at = time.time()
    if len(ctx.events):
        paths, omitted = bounded_paths(saved.paths)
        ctx.events.emit(
            Event(event=EventKind.SAVED, time=at, paths=paths, omitted=omitted, client=record.name)
        )
    changed = ctx.history.report({ctx.realpath(path) for path in saved.paths}, at)
    notified = notify(ctx, changed, at)
    log.debug(
        "%s saved %d files, %d of them changed; told %d clients",
        label(record),
        len(saved.paths),
        len(changed),
        notified,
    )
    return [Noted(re=saved.id, notified=notified, recorded=len(changed))]


def notify(ctx: DaemonContext, changed: set[str], at: float) -> int:
    """Send each connected client its own paths among ``changed``; return how many were told."""
    told = 0
    told_paths: set[str] = set()
    told_names: list[str] = []
    for identity, routed in ctx.registry.route(changed).items():
        record = ctx.registry.get(identity)
        if record is None or not record.connected:
            continue  # a departed client learns of these from the log when it is back
        paths = not_yet_told(ctx.history, record, routed)
        if not paths:
            continue
        log.info("%s: %d changed, e.g. %s", label(record), len(paths), min(paths))
        note_cause(record, at, paths)
        told_paths |= paths
        told_names.append(record.name)
        if ctx.outbox.notify(identity, paths, at):
            told += 1
    if told_names and len(ctx.events):
        shown, omitted = bounded_paths(told_paths)
        ctx.events.emit(
            Event(
                event=EventKind.CHANGED,
                time=at,
                paths=shown,
                omitted=omitted,
                clients=tuple(sorted(told_names)),
            )
        )
    return told


def not_yet_told(history: ChangeHistory, record: ClientRecord, paths: set[str]) -> set[str]:
    """Drop files the client was already told about in their current state; note the others.

    A change reported at registration (from the history) may still be in flight
    from the backend; it must not be reported twice.
    """
    fresh: set[str] = set()
    states = history.states
    for given in paths:
        real = record.files.get(given)
        if real is None or real not in states:
            fresh.add(given)
            continue
        state = states.get(real)
        if real in record.told and record.told[real] == state:
            continue
        record.told[real] = state
        fresh.add(given)
    return fresh
