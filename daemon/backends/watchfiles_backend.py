"""The built-in watcher off Linux: watchfiles' Rust ``notify``, one watcher and one thread for all roots.

On Linux the daemon uses :mod:`~reloadd.daemon.backends.inotify_backend` instead, whose
thread sleeps until something changes; this one is used on macOS (FSEvents) and other
systems, and is tested on Linux alongside it. Every root is watched by one :class:`~watchfiles._rust_notify.RustNotify` (inotify on
Linux, FSEvents on macOS), created in the caller's thread by
:meth:`WatchfilesBackend.watch_roots`, and read by one thread, a
:class:`~reloadd.daemon.backends.notify_reader.NotifyReader`.

Why one for all roots: ``RustNotify.watch()`` cannot block until something changes. It
sleeps ``step_ms`` at a time, and after every step its thread wakes, takes the GIL and
looks, whether anything changed or not. That wake-up is the idle cost: on a 2-core
Linux VM a reader costs 0.5-0.9 % of one core at 5 ms steps, about what a bare
``nanosleep`` loop in C costs there (what the thread does once awake, its stop check
included, is a few percent). One reader per root (a dev server typically needs three:
the project, site-packages, the standard library) cost 1.6 times as much for three.

watchfiles cannot add a path to a running ``RustNotify``. So a new root is watched by
building a new ``RustNotify`` over every root, starting its reader, and only then
retiring the old reader, which closes its ``RustNotify`` and still delivers what it
had collected. A change made meanwhile is collected by the old one, or the new one, or
both (the daemon tells a client of each state of a file once). The price of adding a
root later is a new recursive set-up of every root (about 0.5-1 s with a standard
library), during which the constructor holds the GIL, so the whole daemon waits, and
meanwhile twice their inotify watches. A dev server's first registration brings all
its roots at once, so this is rare.

Why a change made right after :meth:`~WatchfilesBackend.watch_roots` returns is never lost:
``RustNotify`` adds its inotify watches (recursively) before its constructor returns,
and collects events into a set from then on, whether or not a thread is inside
``watch()`` yet; ``watch()`` hands over and clears that set. So the thread needs no
start-up handshake.

``step_ms`` is the trade-off between latency and idle cost. ``watch()`` returns once a
step has passed with no new change (or ``debounce_ms`` after the first), so a single
save is reported 1-2 steps after it happened (the step that sees it, then a quiet
one), and a burst ends one quiet step after its last write. Measured on a 2-core Linux
VM (watchfiles 1.3): step 5 ms -> save reported in ~9 ms (p50) / ~13 ms (p99); step 10
ms -> ~17 ms. The default of 5 ms meets the 15 ms target; the idle cost is inversely
proportional to the step. A burst whose writes pause for longer than one step is
reported as several batches (unless a git/hg lock holds them back).

If the ``RustNotify`` fails (watchfiles' errors are sticky), or a root is removed and
created again, a new one is built over the roots that still exist, and the affected
roots are reported in ``rescan_roots``, since changes may have been missed meanwhile.
A root that is removed for good is logged and dropped from
:meth:`~WatchfilesBackend.watched_roots`.

The built-in watcher keeps no clocks (:meth:`~WatchfilesBackend.clocks` is empty), so a
``since`` clock, which only another backend could have given, is answered with a
rescan of that root.

Known limits: an inotify queue overflow is dropped silently by watchfiles (its queue is
drained by a Rust thread that needs no GIL, so this takes a starved process); the
recursive set-up stops at the first unreadable folder, so a root with one fails loudly
with :class:`~reloadd.protocol.BackendError` rather than being watched partly; symlinks
inside a root are followed by ``notify`` but paths are reported as seen through them.
"""

from __future__ import annotations

import logging
import os

from reloadd.daemon.backends.base import ChangeSink
from reloadd.daemon.backends.builtin_base import RETRY_DELAY, BuiltinBackendBase
from reloadd.daemon.backends.nesting import is_covered, outermost
from reloadd.daemon.backends.notify_reader import NotifyReader, open_notify
from reloadd.protocol.errors import BackendError

log = logging.getLogger("reloadd.daemon.builtin")


class WatchfilesBackend(BuiltinBackendBase):
    """Watch roots with watchfiles' ``RustNotify``: one for every root, read by one thread."""

    def __init__(
        self,
        on_changes: ChangeSink,
        *,
        step_ms: int = 5,
        debounce_ms: int = 1600,
        force_polling: bool = False,
        poll_delay_ms: int = 300,
    ) -> None:
        """Set up; nothing is watched until :meth:`watch_roots`.

        ``step_ms``: how often the reader thread looks for changes (latency 1-2 steps).
        ``debounce_ms``: the longest a burst of changes is gathered before it is reported.
        ``force_polling`` and ``poll_delay_ms``: poll the file system instead of using
        inotify/FSEvents (network and some container file systems).
        """
        if step_ms < 1 or debounce_ms < step_ms or poll_delay_ms < 1:
            raise ValueError(
                "need step_ms >= 1, debounce_ms >= step_ms and poll_delay_ms >= 1, got "
                f"step_ms={step_ms}, debounce_ms={debounce_ms}, poll_delay_ms={poll_delay_ms}"
            )
        super().__init__(on_changes)
        self._step_ms = step_ms
        self._debounce_ms = debounce_ms
        self._force_polling = force_polling
        self._poll_delay_ms = poll_delay_ms
        self._reader: NotifyReader | None = None
        """The reader whose ``RustNotify`` watches every one of ``_roots``."""
        self._readers: list[NotifyReader] = []
        """Every reader whose thread may still run, retired ones included."""

    def _add_roots(self, new: frozenset[str]) -> None:
        self._replace(outermost(self._drop_gone() | new))

    def close(self) -> None:
        """Stop every reader thread (waiting at most :data:`CLOSE_TIMEOUT`); idempotent."""
        self._closing.set()
        with self._lock:
            readers, self._readers = self._readers, []
            self._reader, self._roots = None, frozenset()
        self._join(reader.thread for reader in readers)
        for reader in readers:
            reader.close_notify()

    def _replace(self, roots: frozenset[str]) -> None:
        """Have a new reader watch ``roots``, then retire the current one (lock held)."""
        old = self._reader
        reader: NotifyReader | None = None
        if roots:
            notify = open_notify(
                sorted(roots), force_polling=self._force_polling, poll_delay_ms=self._poll_delay_ms
            )
            reader = NotifyReader(
                notify,
                roots,
                on_changes=self._on_changes,
                recover=self._recover,
                hold=self._hold,
                closing=self._closing,
                step_ms=self._step_ms,
                debounce_ms=self._debounce_ms,
            )
            try:
                reader.thread.start()
            except RuntimeError as exc:
                reader.close_notify()
                raise BackendError(f"cannot start the built-in watcher's thread: {exc}") from exc
            self._readers = [r for r in self._readers if r.thread.is_alive()]
            self._readers.append(reader)
        self._reader, self._roots = reader, roots
        # Only now, with every root watched by the new reader, may the old one stop.
        if old is not None:
            old.retire()

    def _recover(self, reader: NotifyReader, lost: frozenset[str]) -> None:
        """On ``reader``'s thread: it no longer watches ``lost`` (all its roots if it failed).

        Roots gone for good are dropped. Those that exist again are watched afresh by a
        new reader (unless a newer reader already watches them) and reported for a
        rescan, since changes may have been missed meanwhile. While setting up the new
        reader fails, it is retried; changes under the other roots wait in the old
        ``RustNotify`` meanwhile, and are reported once a new one runs.
        """
        while True:
            with self._lock:
                if self._closing.is_set():
                    return
                replaced = reader is not self._reader
                roots = self._drop_gone()
                back = frozenset(root for root in lost if os.path.isdir(root))
                # A newer reader may have been set up while a lost root was missing.
                unwatched = frozenset(r for r in back if not (replaced and is_covered(r, roots)))
                if not unwatched:
                    break
                try:
                    self._replace(outermost(roots | unwatched))
                    break
                except BackendError as exc:
                    log.error(
                        "cannot watch %s again (%s); retrying in %g s",
                        ", ".join(sorted(unwatched)),
                        exc,
                        RETRY_DELAY,
                    )
            if self._closing.wait(RETRY_DELAY):
                return
        self._rescan(back)

    def _drop_gone(self) -> frozenset[str]:
        """Stop watching the roots that are no longer folders (logged); return the others."""
        kept = frozenset(root for root in self._roots if os.path.isdir(root))
        for root in sorted(self._roots - kept):
            log.warning("the watched root %s is gone; the built-in watcher stops watching it", root)
        self._roots = kept
        if self._reader is not None:
            self._reader.roots = kept
            if not kept:
                self._reader.retire()
                self._reader = None
        return kept
