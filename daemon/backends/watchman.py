"""The Watchman backend: one Watchman subscription per watch root, read by one thread.

Threads, and what each runs:

* **The caller's thread** runs :meth:`WatchmanBackend.start` and
  :meth:`WatchmanBackend.watch_roots`, one call at a time: the daemon's main thread
  while it starts (resuming the previous run's roots), then its watch thread
  (``reloadd-watch``), so that a first crawl never blocks the socket loop. It owns the
  *command* connection (``watch-project``/``watch``, the synced ``clock``) and hands
  ``subscribe`` work to the reader, waiting on a ``Future``.
* **The daemon's main thread** calls :meth:`~WatchmanBackend.clocks` and
  :meth:`~WatchmanBackend.watched_roots` (housekeeping, state saves, ``status``) and
  :meth:`~WatchmanBackend.close`; these only read the
  :class:`~reloadd.daemon.backends.watchman_shared.SharedState` under its lock.
* **The reader thread** ``reloadd-watchman``
  (:mod:`~reloadd.daemon.backends.watchman_reader`) owns the *subscription* connection
  and its :mod:`~reloadd.daemon.backends.watchman_subscriptions`, hands every batch to
  the sink, and reconnects when Watchman goes away.

Two connections, because a pywatchman client is not thread-safe and a subscription
belongs to the connection that made it. Which watch covers a root (``watch-project``
for the project, ``watch`` of the folder itself for the standard library and
``site-packages``) and giving back the watches the backend created is
:mod:`~reloadd.daemon.backends.watchman_roots`; one request and its answer,
:mod:`~reloadd.daemon.backends.watchman_wire`.

A root is acknowledged only after its subscription exists *and* a ``clock`` query with
``sync_timeout`` has returned: Watchman has then seen every change made before, so any
change made after :meth:`WatchmanBackend.watch_roots` returns is reported. On Watchman
4.x a new subscription must also be *primed* (see
:func:`~reloadd.daemon.backends.watchman_wire.prime_subscription`).

No change is lost when Watchman or the daemon goes away:

* **Resuming.** :meth:`WatchmanBackend.clocks` gives, per root, the clock up to which
  every change has been handed to the sink. A later run passes it as ``since``: the
  reader subscribes as usual, then runs one ``query`` since that clock and delivers its
  files as an ordinary batch, or ``rescan_roots`` if Watchman answers
  ``is_fresh_instance`` (the clock is from another Watchman process, or the watch was
  re-created). A query, not a ``since`` subscription, because Watchman 4.9 sends no
  subscription message for an empty result, and a fresh-instance result is empty
  under ``empty_on_fresh_instance``: a stale clock would pass unnoticed. Roots whose
  watch is given back at close have no clock to resume from.
* **Watchman restarted or the connection broke**: the reader reconnects (see its
  module). Meanwhile :meth:`WatchmanBackend.watch_roots` waits for it until its
  timeout. This backend never starts Watchman itself: with an explicit socket it only
  connects there; with none, pywatchman asks ``watchman get-sockname``, which starts
  the user's server as any ``watchman`` command does.
* **Recrawls.** Watchman 4.9 does not mark subscriptions fresh after a recrawl (inotify
  overflow, ``debug-recrawl``); the only trace is the "Recrawled this watch N times"
  warning carried by its later messages, so a growing N means ``rescan_roots``, as does
  an unexpected ``is_fresh_instance`` (later releases).
* **Watch canceled** (the root was deleted): its roots are forgotten; when they are
  watched again, ``rescan_roots`` is delivered for them.

Bursts: Watchman's settle and ``defer_vcs`` stay on. ``defer_vcs`` holds a subscription
while ``.git/index.lock`` (or Mercurial's ``wlock``) exists, so a ``git checkout`` that
rewrites thousands of files arrives as one batch.
"""

from __future__ import annotations

import concurrent.futures
import logging
import os
import time
from collections.abc import Iterable, Mapping
from pathlib import Path

from reloadd.daemon.backends.base import Backend, ChangeBatch, ChangeSink
from reloadd.daemon.backends.nesting import is_covered
from reloadd.daemon.backends.watchman_reader import (
    PDU_TIMEOUT,
    RECONNECT_FIRST_DELAY,
    Reader,
)
from reloadd.daemon.backends.watchman_roots import RootResolver
from reloadd.daemon.backends.watchman_shared import SharedState
from reloadd.daemon.backends.watchman_subscriptions import CatchUp, Stop, Subscribe
from reloadd.daemon.backends.watchman_wire import (
    CONNECT_TIMEOUT,
    Commands,
    connect,
    leaves_last_tick_unset,
    reduce_prefixes,
    settle,
)
from reloadd.protocol.errors import BackendError, WatchmanUnavailable

log = logging.getLogger("reloadd.daemon.watchman")

CLOSE_TIMEOUT = 5.0
"""Seconds :meth:`WatchmanBackend.close` waits for the reader thread, and then for giving
back the watches it created."""

WATCH_ATTEMPTS = 3
"""Tries :meth:`WatchmanBackend.watch_roots` makes when the connection breaks under it."""


class WatchmanBackend(Backend):
    """Watch roots with Watchman: one subscription per watch root, changes read by one thread."""

    name = "watchman"

    def __init__(
        self,
        on_changes: ChangeSink,
        *,
        sockpath: str | None = None,
        project_root: Path | None = None,
    ) -> None:
        """``project_root``: roots inside it are watched with ``watch-project``, others by
        themselves (see :mod:`~reloadd.daemon.backends.watchman_roots`); without it, every
        root is watched with ``watch-project``."""
        super().__init__(on_changes)
        # An explicit socket wins over WATCHMAN_SOCK; with neither, pywatchman asks the
        # watchman binary (``watchman get-sockname``).
        self._sockpath = sockpath or os.environ.get("WATCHMAN_SOCK") or None
        self._shared = SharedState()
        self._resolver = RootResolver(project_root)
        # The caller's thread only.
        self._commands = Commands(self._sockpath)
        self._commands_generation = 0
        self._reader: Reader | None = None

    @property
    def sockpath(self) -> str | None:
        """The Watchman socket used, or ``None`` when pywatchman discovers it."""
        return self._sockpath

    # -- Backend interface -------------------------------------------------

    def start(self) -> None:
        """Connect twice to Watchman (commands, subscriptions) and start the reader thread."""
        if self._reader is not None:
            return
        if self._shared.closed:
            raise BackendError("this Watchman backend was closed; create a new one")
        version = self._commands.connect(CONNECT_TIMEOUT)
        self._shared.prime_subscriptions = leaves_last_tick_unset(version)
        try:
            subscriber, _ = connect(self._sockpath, CONNECT_TIMEOUT)
        except WatchmanUnavailable:
            self._commands.close()
            raise
        subscriber.setTimeout(PDU_TIMEOUT)
        self._shared.connected.set()
        self._reader = Reader(
            subscriber,
            sockpath=self._sockpath,
            shared=self._shared,
            resolver=self._resolver,
            emit=self._emit,
        )
        self._reader.thread.start()
        log.debug(
            "connected to Watchman %s%s", version, f" at {self._sockpath}" if self._sockpath else ""
        )

    def watch_roots(
        self, roots: Iterable[Path], *, timeout: float, since: Mapping[Path, str] | None = None
    ) -> None:
        """Watch each root not yet covered; return once Watchman's view of them is current.

        ``since`` maps a root (or its watch root) to a clock from :meth:`clocks`: what
        changed after it is delivered before this returns, as paths, or as
        ``rescan_roots`` if the clock is from another Watchman process. While Watchman is
        away this waits for the reconnection, up to ``timeout``.
        """
        deadline = time.monotonic() + timeout
        requested = sorted({Path(os.path.realpath(r)) for r in roots})
        clocks = {Path(os.path.realpath(r)): c for r, c in (since or {}).items()}
        failures = 0
        while True:
            wanted = self._shared.covered(requested)
            if not wanted:
                return
            if self._reader is None or self._shared.closed:
                raise BackendError("the Watchman backend is not started")
            generation = self._wait_connected(deadline)
            try:
                self._watch(self._reader, wanted, clocks, deadline)
            except WatchmanUnavailable:
                if time.monotonic() >= deadline or self._shared.closed:
                    raise
                if not self._lost_since(generation, deadline):
                    failures += 1
                    if failures >= WATCH_ATTEMPTS:
                        raise
                continue  # try again, once the reader is back if the connection broke
            shared = self._shared
            with shared.lock:
                if shared.generation == generation:
                    shared.roots = {r for r in shared.roots if not is_covered(r, wanted)}
                    shared.roots.update(wanted)
                    shared.canceled = {c for c in shared.canceled if not is_covered(c, wanted)}
                    return
            # Lost meanwhile, so the reconnection did not know these roots: once more.

    def clocks(self) -> dict[Path, str]:
        """Per watched root, the clock up to which every change was delivered (for ``since``).

        Not for roots whose watch is given back at close: a later run finds no watch there.
        """
        with self._shared.lock:
            clocks = {r: c for r, c in self._shared.clocks.items() if r in self._shared.roots}
        given_back = self._resolver.own(clocks)
        return {root: clock for root, clock in clocks.items() if root not in given_back}

    def watched_roots(self) -> frozenset[Path]:
        """The roots watched now (none lies below another)."""
        with self._shared.lock:
            return frozenset(self._shared.roots)

    def close(self) -> None:
        """Unsubscribe, end the reader thread, give back the watches it created (idempotent)."""
        with self._shared.lock:
            if self._shared.closed:
                return
            self._shared.closed = True
        reader = self._reader
        stopped = True
        if reader is not None:
            reader.send(Stop())
            reader.thread.join(CLOSE_TIMEOUT)
            if reader.thread.is_alive():
                stopped = False
                # Its wake-up stays open: closing an fd another thread may still poll
                # could hand the number to an unrelated file.
                log.warning("the Watchman reader thread did not stop within %ss", CLOSE_TIMEOUT)
            else:
                reader.wakeup.close()
        self._commands.close()
        if stopped:
            # Its own connection: a watch may still be running on the caller's thread.
            commands = Commands(self._sockpath)
            try:
                self._resolver.give_back(commands, time.monotonic() + CLOSE_TIMEOUT)
            finally:
                commands.close()
        with self._shared.lock:
            self._shared.roots.clear()
            self._shared.clocks.clear()

    # -- the caller's thread -----------------------------------------------------------

    def _wait_connected(self, deadline: float) -> int:
        """Wait until the reader is connected; the connection's generation."""
        while True:
            if not self._shared.connected.wait(max(0.0, deadline - time.monotonic())):
                raise WatchmanUnavailable(
                    "Watchman is not reachable (reconnecting in the background); "
                    "check that it runs ('watchman version')"
                )
            with self._shared.lock:
                if self._shared.connected.is_set():
                    generation = self._shared.generation
                    break
        if generation != self._commands_generation:
            self._commands.close()  # it talked to the Watchman that went away
            self._commands_generation = generation
        return generation

    def _lost_since(self, generation: int, deadline: float) -> bool:
        """Whether the connection broke after ``generation`` (waiting a moment for the reader
        to notice, as a command may fail just before it does)."""
        grace = min(RECONNECT_FIRST_DELAY, max(0.0, deadline - time.monotonic()))
        with self._shared.lost:
            return self._shared.lost.wait_for(lambda: self._shared.generation != generation, grace)

    def _watch(
        self, reader: Reader, wanted: list[Path], clocks: Mapping[Path, str], deadline: float
    ) -> None:
        """Watch, subscribe and sync ``wanted`` (one attempt)."""
        entries: dict[str, list[tuple[Path, str]]] = {}
        for root in wanted:
            watch_root, prefix = self._resolver.resolve(self._commands, root, deadline)
            entries.setdefault(watch_root, []).append((root, prefix))
        with self._shared.lock:
            canceled = set(self._shared.canceled)
            prime = self._shared.prime_subscriptions
        works: list[Subscribe] = []
        for watch_root, found in entries.items():
            rescan = frozenset(
                root
                for root, _ in found
                if any(is_covered(c, [root]) or is_covered(root, [c]) for c in canceled)
            )
            by_clock: dict[str, list[tuple[Path, str]]] = {}
            for root, prefix in found:
                clock = clocks.get(root) or clocks.get(Path(watch_root))
                if clock and root not in rescan:
                    by_clock.setdefault(clock, []).append((root, prefix))
            works.append(
                Subscribe(
                    watch_root,
                    reduce_prefixes(prefix for _, prefix in found),
                    frozenset(root for root, _ in found),
                    catch_up=tuple(
                        CatchUp(
                            clock,
                            reduce_prefixes(p for _, p in items),
                            frozenset(r for r, _ in items),
                        )
                        for clock, items in by_clock.items()
                    ),
                    rescan=rescan,
                )
            )
        created = {work.watch_root: self._subscribe(reader, work, deadline) for work in works}
        settle(self._commands, created, prime=prime, deadline=deadline)

    @staticmethod
    def _subscribe(reader: Reader, work: Subscribe, deadline: float) -> str | None:
        """Have the reader thread run ``work``; the name of the new subscription, or ``None``."""
        reader.send(work)
        try:
            return work.done.result(timeout=max(0.0, deadline - time.monotonic()))
        except concurrent.futures.TimeoutError as exc:  # not yet the builtin on Python 3.10
            # The reader carries on; the subscription it makes will be kept and reused.
            raise WatchmanUnavailable(
                f"Watchman did not confirm the subscription on {work.watch_root} in time"
            ) from exc

    def _emit(self, batch: ChangeBatch) -> None:
        """Hand ``batch`` to the sink (on the reader thread); a failing sink is logged."""
        try:
            self._on_changes(batch)
        except Exception:
            # A failing consumer must not stop the reader: later changes still matter.
            log.exception(
                "the change sink failed on %d paths, %d rescans",
                len(batch.paths),
                len(batch.rescan_roots),
            )
