"""The built-in watcher on Linux: one inotify instance for all roots, read by one sleeping thread.

Every folder under every root is watched by one
:class:`~reloadd.daemon.backends.inotify_tree.InotifyTree`. Its thread sleeps in
``poll`` on the inotify descriptor (and a :class:`~reloadd.protocol.wakeup.Wakeup` for
:meth:`InotifyBackend.close`; ``poll``, not ``select``, so descriptors above 1024 work),
so while nothing changes it is never woken and costs no CPU at all. That is why this
exists instead of watchfiles' ``RustNotify`` (still used on other systems, see
:mod:`~reloadd.daemon.backends.watchfiles_backend`): ``RustNotify.watch()`` cannot block,
and its thread woke every 5 ms to take the GIL, 1.1-1.3 % of a core for nothing.

A folder renamed or moved out of a root is reported by inotify as the folder alone; the
batch also names it in ``rescan_roots``, so that the daemon re-checks the files it
tracks below the old name (gone from there, so changed).

Batches: the first event opens a batch; it is reported once ``quiet_ms`` pass with no
further event (an editor's write-rename save arrives within a millisecond), or at the
latest ``debounce_ms`` after it opened, so a long burst is reported in pieces rather
than never. While git or hg holds its lock on a root's repository, changes under that
root are held back (:class:`~reloadd.daemon.backends.vcs_hold.VcsHold`), checked again
every :data:`HOLD_POLL` seconds.

A change made right after :meth:`InotifyBackend.watch_roots` returns is never lost: the
watches are added in the caller's thread before it returns, and the kernel queues their
events from then on. Adding a root later adds watches for its folders only.

inotify sees a new folder only once it exists, so files written into it at once
(``mkdir -p a/b && cp x a/b/``, a ``git checkout``) would be missed: a folder reported
as created or moved in is watched and scanned, and everything in it is reported.

If the kernel's event queue overflows (``fs.inotify.max_queued_events``), events were
lost: every root is walked again for folders not watched yet, and reported in
``rescan_roots``. A root that is removed, or moved away, is watched afresh if a folder
of that name exists again (and reported for a rescan), else dropped from
:meth:`~InotifyBackend.watched_roots` with a warning. When no root is left the thread
ends and the inotify instance is closed, until the next root.

Limits: one inotify watch per folder, against ``fs.inotify.max_user_watches`` (reaching
it is a :class:`~reloadd.protocol.BackendError` saying so); a folder that cannot be read
is logged and skipped; symlinks inside a root are not followed. The built-in watcher
keeps no clocks, so a ``since`` clock (only another backend could have given one) is
answered with a rescan of that root.
"""

from __future__ import annotations

import logging
import os
import select
import threading
import time
from collections.abc import Callable
from pathlib import Path

from reloadd.daemon.backends.base import ChangeBatch, ChangeSink
from reloadd.daemon.backends.builtin_base import RETRY_DELAY, BuiltinBackendBase
from reloadd.daemon.backends.inotify_tree import Events, InotifyTree
from reloadd.daemon.backends.nesting import outermost
from reloadd.protocol.errors import BackendError
from reloadd.protocol.wakeup import Wakeup

log = logging.getLogger("reloadd.daemon.builtin")

HOLD_POLL = 0.1
"""Seconds between checks of a git/hg lock while changes are held back for it."""

OVERFLOWED = "the inotify event queue overflowed; fs.inotify.max_queued_events bounds it"


class _Reader:
    """One inotify instance, its wake-up, and the thread that reads them."""

    def __init__(self, tree: InotifyTree, thread_target: Callable[[_Reader], None]) -> None:
        self.tree = tree
        self.wakeup = Wakeup()
        self.thread = threading.Thread(
            target=thread_target, args=(self,), name="reloadd-builtin", daemon=True
        )

    def close_fds(self) -> None:
        self.tree.close()
        self.wakeup.close()


class InotifyBackend(BuiltinBackendBase):
    """Watch roots with inotify: one instance and one sleeping thread for every root."""

    def __init__(
        self, on_changes: ChangeSink, *, quiet_ms: int = 5, debounce_ms: int = 1600
    ) -> None:
        """Set up; nothing is watched until :meth:`watch_roots`.

        ``quiet_ms``: a batch is reported once this long passes with no further change.
        ``debounce_ms``: the longest a burst of changes is gathered before it is reported.
        """
        if quiet_ms < 1 or debounce_ms < quiet_ms:
            raise ValueError(
                f"need quiet_ms >= 1 and debounce_ms >= quiet_ms, got quiet_ms={quiet_ms}, "
                f"debounce_ms={debounce_ms}"
            )
        super().__init__(on_changes)
        self._quiet = quiet_ms / 1000
        self._debounce = debounce_ms / 1000
        self._reader: _Reader | None = None
        """The reader watching ``_roots``; ``None`` while there are none."""
        self._threads: list[threading.Thread] = []

    def _add_roots(self, new: frozenset[str]) -> None:
        reader = self._reader or self._start_reader()
        for root in sorted(new):
            try:
                reader.tree.watch_tree(root)
            except BackendError:
                reader.tree.forget_tree(root, keep=self._roots)
                raise
            self._roots = outermost((*self._roots, root))

    def close(self) -> None:
        """Stop the reader thread (waiting at most :data:`CLOSE_TIMEOUT`); idempotent."""
        self._closing.set()
        with self._lock:
            if self._reader is not None:
                self._reader.wakeup.set()
            self._roots = frozenset()
            threads, self._threads = self._threads, []
        self._join(threads)

    def _start_reader(self) -> _Reader:
        """A new reader with its thread running (lock held)."""
        reader = _Reader(InotifyTree(), self._run)
        try:
            reader.thread.start()
        except RuntimeError as exc:
            reader.close_fds()
            raise BackendError(f"cannot start the built-in watcher's thread: {exc}") from exc
        self._threads = [t for t in self._threads if t.is_alive()]
        self._threads.append(reader.thread)
        self._reader = reader
        return reader

    def _run(self, reader: _Reader) -> None:
        try:
            self._read_until_done(reader)
        finally:
            with self._lock:
                if self._reader is reader:
                    self._reader = None
                    self._roots = frozenset()
            reader.close_fds()

    def _read_until_done(self, reader: _Reader) -> None:
        """Gather events into batches and deliver them, until closed or no root is left."""
        pending: set[str] = set()
        moved: set[str] = set()
        opened = 0.0
        ended: set[str] = set()
        overflow = False
        inotify, wake = reader.tree.fileno(), reader.wakeup.fileno()
        poller = select.poll()
        poller.register(inotify, select.POLLIN)
        poller.register(wake, select.POLLIN)
        while not self._closing.is_set():
            try:
                wait = self._wait(pending, opened)
                readable = {fd for fd, _ in poller.poll(None if wait is None else wait * 1000)}
                if self._closing.is_set():
                    return
                if wake in readable:
                    reader.wakeup.clear()
                    if inotify not in readable:
                        continue
                if inotify in readable:
                    events = reader.tree.read()
                    if events.paths and not pending:
                        opened = time.monotonic()
                    self._take(reader.tree, events, pending)
                    moved |= events.moved_away
                    ended |= events.ended
                    overflow |= events.overflow
                    if pending and time.monotonic() - opened < self._debounce:
                        continue  # wait for a quiet moment
                    if not (pending or ended or overflow):
                        continue
                self._deliver(pending, moved)
                pending = set()
                if ended or overflow:
                    why = OVERFLOWED if overflow else None
                    lost, ended, overflow = ended, set(), False
                    if not self._recover(reader, lost, rewalk=why):
                        return
            except Exception:
                log.exception("the built-in watcher failed; watching every root afresh")
                pending.clear()
                moved.clear()
                ended.clear()
                overflow = False
                if self._closing.wait(RETRY_DELAY):
                    return
                if not self._recover(reader, set(), rewalk="after that error"):
                    return

    def _wait(self, pending: set[str], opened: float) -> float | None:
        """Seconds ``poll`` may sleep: for ever (``None``) while nothing is pending."""
        if pending:
            return max(0.0, min(self._quiet, opened + self._debounce - time.monotonic()))
        if self._hold.holding():
            return HOLD_POLL
        return None

    def _take(self, tree: InotifyTree, events: Events, pending: set[str]) -> None:
        """Add ``events``' paths to ``pending``; watch and scan the new folders among them."""
        pending |= events.paths
        for folder in events.new_folders:
            try:
                tree.watch_tree(folder, found=pending)
            except BackendError as exc:
                log.error("%s; changes in %s are missed", exc, folder)

    def _deliver(self, pending: set[str], moved: set[str]) -> None:
        """Report what the VCS hold lets through; a folder moved away among it as a rescan too.

        inotify names only the folder, so the files tracked below its old name are
        found by the daemon's rescan of it (and removed from ``moved`` once reported).
        """
        with self._lock:
            roots = self._roots
        ready = self._hold.settle(pending, roots)
        if not ready:
            return
        rescan = moved & ready
        moved -= rescan
        batch = ChangeBatch(
            paths=frozenset(ready), rescan_roots=frozenset(Path(folder) for folder in rescan)
        )
        try:
            self._on_changes(batch)
        except Exception:
            log.exception("the change sink failed on a batch of %d paths", len(ready))

    def _recover(self, reader: _Reader, ended: set[str], *, rewalk: str | None) -> bool:
        """Watch afresh after ended roots or lost events; ``False`` once no root is left.

        A root that ended but exists again is watched again; one gone for good is
        dropped. Given ``rewalk`` (why events were lost), every root is walked again
        for folders not watched yet. Either way the roots concerned are reported for a
        rescan, since changes may have been missed.
        """
        rescan: set[str] = set()
        with self._lock:
            if self._reader is not reader:
                return False
            for root in sorted(self._roots & ended):
                reader.tree.forget_tree(root, keep=self._roots - {root})
                if os.path.isdir(root):
                    try:
                        reader.tree.watch_tree(root)
                    except BackendError as exc:
                        log.error("cannot watch %s again: %s", root, exc)
                    else:
                        log.warning("the watched root %s was replaced; watching it afresh", root)
                        rescan.add(root)
                        continue
                log.warning(
                    "the watched root %s is gone; the built-in watcher stops watching it", root
                )
                self._roots -= {root}
            if rewalk is not None:
                log.warning(
                    "changes may have been lost (%s); watching afresh and rescanning %s",
                    rewalk,
                    ", ".join(sorted(self._roots)),
                )
                for root in self._roots:
                    try:
                        reader.tree.watch_tree(root)
                    except BackendError as exc:
                        log.error("cannot watch %s again: %s", root, exc)
                rescan |= self._roots
            if not self._roots:
                self._reader = None
                return False
        self._rescan(rescan)
        return True
