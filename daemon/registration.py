"""``watch`` and ``unwatch``: what a client registers, and the root watches that may need.

A ``watch`` whose files all lie under roots already watched is registered at
once. Otherwise the new roots are watched on the watch thread
(:mod:`reloadd.daemon.root_watcher`) and :func:`on_roots_watched` registers the
files when the outcome is back on the main thread; the client's reply waits
for it.
"""

from __future__ import annotations

import logging
import sys
import time

from reloadd.daemon.context import DaemonContext, label
from reloadd.daemon.notifier import not_yet_told
from reloadd.daemon.outbox import changed_messages
from reloadd.daemon.registry import ClientId, ClientRecord
from reloadd.daemon.root_watcher import PendingWatch, RootsWatched
from reloadd.daemon.roots import uncovered
from reloadd.protocol import Error, ErrorCode, Message, Unwatch, Watch, Watching

log = logging.getLogger("reloadd.daemon")


def handle_watch(ctx: DaemonContext, identity: ClientId, watch: Watch) -> list[Message]:
    """Register files and globs; when they need a new root, watch it first (no reply yet)."""
    record = ctx.registered(identity, watch)
    ctx.registry.settle_taken_back(record, unchanged=watch.unchanged)
    ctx.registry.check_limits(record, watch.files, watch.globs)
    # Interned: eight dev servers registering the same 20,000 paths share one copy.
    files = {sys.intern(given): ctx.realpath(given) for given in watch.files}
    globs = {glob: ctx.realpath(glob.directory) for glob in watch.globs}
    wanted_files, wanted_dirs = list(files.values()), list(globs.values())
    if watch.unchanged and ctx.roots.ever_dropped:
        # What the client registered before was covered then; a root may be gone since.
        wanted_files += record.files.values()
        wanted_dirs += record.globs.values()
    pending = PendingWatch(identity, watch, files, globs)
    new_roots = ctx.roots.missing(wanted_files, wanted_dirs, ctx.endpoint.root)
    if not new_roots:
        return register(ctx, record, pending)
    ctx.root_watcher.submit(new_roots, pending)
    return []


def handle_unwatch(ctx: DaemonContext, identity: ClientId, unwatch: Unwatch) -> list[Message]:
    """Remove files and globs from the client's registration."""
    record = ctx.registered(identity, unwatch)
    ctx.registry.unwatch(record, unwatch.files, unwatch.globs)
    return [Watching(re=unwatch.id, files=len(record.files), globs=len(record.globs))]


def on_roots_watched(ctx: DaemonContext, outcome: RootsWatched) -> None:
    """On the main thread: a root watch ended; register the waiting client's files, reply."""
    pending = outcome.pending
    if outcome.error is not None:
        ctx.roots.finished((), outcome.watched_at, outcome.backend_roots)
        log.error("the %s backend failed: %s", ctx.backend.name, outcome.error)
        ctx.outbox.send(
            pending.identity,
            Error(re=pending.watch.id, code=ErrorCode.BACKEND_FAILED, message=str(outcome.error)),
        )
        return
    ctx.roots.finished(outcome.new_roots, outcome.watched_at, outcome.backend_roots)
    log.info(
        "now watching %s (%.0f ms)",
        ", ".join(map(str, outcome.new_roots)),
        (time.monotonic() - outcome.started) * 1000,
    )
    record = ctx.registry.get(pending.identity)
    if record is None or not record.connected:
        return  # it left while we watched; its next hello starts afresh
    for reply in register(ctx, record, pending):
        ctx.outbox.send(pending.identity, reply)


def register(ctx: DaemonContext, record: ClientRecord, pending: PendingWatch) -> list[Message]:
    """Add the files to the registry (their roots are watched); report what changed since."""
    watch = pending.watch
    ctx.registry.watch(record, pending.files, pending.globs)
    files, globs = pending.files, pending.globs
    if watch.unchanged:
        # A restarted client kept its registration: apply ``since`` to all of it.
        files, globs = record.files, record.globs
    missed = not_yet_told(ctx.history, record, ctx.history.track(files, globs, watch.since))
    log.debug(
        "%s watches %d files and %d globs", label(record), len(record.files), len(record.globs)
    )
    unwatched = _uncovered(ctx, record, pending, everything=watch.unchanged)
    if unwatched:
        log.warning(
            "%s: not watching %d paths, e.g. %s", label(record), len(unwatched), unwatched[0]
        )
    replies: list[Message] = [
        Watching(
            re=watch.id,
            files=len(record.files),
            globs=len(record.globs),
            unwatched=len(unwatched),
        )
    ]
    if missed:
        log.info(
            "%s: %d changed since %.3f, e.g. %s",
            label(record),
            len(missed),
            watch.since,
            min(missed),
        )
        replies.extend(changed_messages(missed, time.time()))
    return replies


def _uncovered(
    ctx: DaemonContext, record: ClientRecord, pending: PendingWatch, *, everything: bool
) -> list[str]:
    """The paths no watched root covers: of the request, or of the whole registration.

    A restarted client's ``unchanged`` watch asks about all of its (say 20,000) paths;
    checking each one at every restart cost a millisecond. Until a root is dropped roots
    only grow, so only the paths found uncovered before (kept on the record) and those
    this request adds need checking; once one was dropped, everything is checked again.
    """
    if everything and ctx.roots.ever_dropped:
        files, globs = record.files, record.globs
    else:
        files = {g: r for g, r in record.unwatched_files.items() if g in record.files}
        globs = {g: r for g, r in record.unwatched_globs.items() if g in record.globs}
        files.update(pending.files)
        globs.update(pending.globs)
    unwatched = uncovered(files.values(), globs.values(), ctx.roots.current)
    names = set(unwatched)
    record.unwatched_files = {g: r for g, r in files.items() if r in names} if names else {}
    record.unwatched_globs = {g: r for g, r in globs.items() if r in names} if names else {}
    if everything or not names:
        return unwatched
    return sorted(
        name for name in (*pending.files.values(), *pending.globs.values()) if name in names
    )
