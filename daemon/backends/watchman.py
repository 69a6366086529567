"""The Watchman backend: one Watchman subscription per watch root, read by one thread.

Two connections to Watchman, because a pywatchman client is not thread-safe and a
subscription belongs to the connection that made it:

* the *command* connection, used by the daemon's main thread in
  :meth:`WatchmanBackend.watch_roots` for ``watch-project`` and the synced ``clock``;
* the *subscription* connection, owned by the reader thread. The reader waits with
  ``select`` on that socket and on a wake-up pipe; the main thread hands it
  ``subscribe`` work through a queue and waits on a :class:`~concurrent.futures.Future`.

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
  under ``empty_on_fresh_instance``: a stale clock would pass unnoticed.
* **Watchman restarted or the connection broke.** The reader logs one warning and
  reconnects with backoff (0.1 s doubling to 2 s) for as long as the backend is open,
  runs ``watch-project`` for every root again, subscribes afresh (old clocks belong to
  the dead process), primes, then delivers ``rescan_roots`` for every root and logs
  one info line. Meanwhile :meth:`WatchmanBackend.watch_roots` waits for it until its
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
import itertools
import logging
import os
import queue
import select
import threading
import time
from collections.abc import Iterable, Mapping
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import pywatchman

from reloadd.daemon.backends.base import Backend, ChangeBatch, ChangeSink
from reloadd.daemon.backends.watchman_wire import (
    CONNECT_TIMEOUT,
    Commands,
    connect,
    leaves_last_tick_unset,
    query_spec,
    reason,
    recrawl_count,
    reduce_prefixes,
    settle,
)
from reloadd.daemon.roots import is_covered
from reloadd.protocol.errors import BackendError, WatchmanUnavailable

log = logging.getLogger("reloadd.daemon.watchman")

PDU_TIMEOUT = 60.0
"""Seconds the reader waits for the rest of a message once its first byte arrived,
and for the answer to a ``subscribe`` (a first query on a large tree)."""

CLOSE_TIMEOUT = 5.0
"""Seconds :meth:`WatchmanBackend.close` waits for the reader thread."""

RECONNECT_FIRST_DELAY = 0.1
"""Seconds before the first attempt to reconnect once the connection to Watchman broke."""

RECONNECT_MAX_DELAY = 2.0
"""The longest pause between two attempts to reconnect (the pause doubles up to it)."""

RESUBSCRIBE_TIMEOUT = 60.0
"""Seconds one reconnection may take to watch, subscribe and sync every root again."""

WATCH_ATTEMPTS = 3
"""Tries :meth:`WatchmanBackend.watch_roots` makes when the connection breaks under it."""

_subscription_serial = itertools.count(1)


@dataclass
class _Subscription:
    """The reader thread's record of the one subscription on a watch root."""

    name: str
    prefixes: frozenset[str]
    roots: frozenset[Path]
    """The requested roots it covers (what a rescan names)."""
    clock: str | None
    """Every change up to this clock has been handed to the sink: where a replacement or a
    later run starts from."""
    expect_fresh: bool
    """Whether a first "fresh instance" message is expected (a new subscription with no ``since``)."""
    recrawls: int
    """How often Watchman had recrawled the watch root, as last told."""


@dataclass(frozen=True)
class _CatchUp:
    """Changes to report since ``clock`` (from an earlier run) below the folders ``prefixes``."""

    clock: str
    prefixes: frozenset[str]
    roots: frozenset[Path]


@dataclass
class _Subscribe:
    """Work for the reader: make the subscription on ``watch_root`` cover ``prefixes`` too."""

    watch_root: str
    prefixes: frozenset[str]
    roots: frozenset[Path]
    catch_up: tuple[_CatchUp, ...] = ()
    """Queries to run once subscribed; their results are delivered before ``done`` is set."""
    rescan: frozenset[Path] = frozenset()
    """Roots to deliver as ``rescan_roots`` once subscribed (their watch was canceled before)."""
    done: Future[str | None] = field(default_factory=Future)
    """Set to the name of the new subscription, or ``None`` if the existing one covers all."""


class _Stop:
    """Work for the reader: unsubscribe everything and end."""


class WatchmanBackend(Backend):
    """Watch roots with Watchman: one subscription per watch root, changes read by one thread."""

    name: ClassVar[str] = "watchman"

    def __init__(self, on_changes: ChangeSink, *, sockpath: str | None = None) -> None:
        super().__init__(on_changes)
        # An explicit socket wins over WATCHMAN_SOCK; with neither, pywatchman asks the
        # watchman binary (``watchman get-sockname``).
        self._sockpath = sockpath or os.environ.get("WATCHMAN_SOCK") or None
        self._lock = threading.Lock()
        # Guarded by _lock.
        self._roots: set[Path] = set()
        self._canceled: set[Path] = set()
        self._clocks: dict[Path, str] = {}
        self._generation = 0
        """Bumped each time the subscription connection is lost."""
        self._lost = threading.Condition(self._lock)
        """Notified when the generation is bumped."""
        self._prime_subscriptions = False
        self._closed = False
        self._connected = threading.Event()
        """Set while the subscription connection is up and every root is subscribed."""
        # Main thread only.
        self._commands = Commands(self._sockpath)
        self._commands_generation = 0
        self._reader: threading.Thread | None = None
        self._work: queue.SimpleQueue[_Subscribe | _Stop] = queue.SimpleQueue()
        self._wake_r = self._wake_w = -1
        # Owned by the reader thread once it runs.
        self._subscriber: Any = None
        self._subscriptions: dict[str, _Subscription] = {}

    @property
    def sockpath(self) -> str | None:
        """The Watchman socket used, or ``None`` when pywatchman discovers it."""
        return self._sockpath

    # -- Backend interface -------------------------------------------------

    def start(self) -> None:
        """Connect twice to Watchman (commands, subscriptions) and start the reader thread."""
        if self._reader is not None:
            return
        if self._closed:
            raise BackendError("this Watchman backend was closed; create a new one")
        version = self._commands.connect(CONNECT_TIMEOUT)
        self._prime_subscriptions = leaves_last_tick_unset(version)
        try:
            self._subscriber, _ = connect(self._sockpath, CONNECT_TIMEOUT)
        except WatchmanUnavailable:
            self._commands.close()
            raise
        self._subscriber.setTimeout(PDU_TIMEOUT)
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_w, False)
        self._connected.set()
        self._reader = threading.Thread(
            target=self._read_loop, name="reloadd-watchman", daemon=True
        )
        self._reader.start()
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
            with self._lock:
                covered = set(self._roots)
            wanted: list[Path] = []
            for root in requested:
                if not is_covered(root, covered):
                    wanted.append(root)
                    covered.add(root)
            if not wanted:
                return
            if self._reader is None or self._closed:
                raise BackendError("the Watchman backend is not started")
            generation = self._wait_connected(deadline)
            try:
                self._watch(wanted, clocks, deadline)
            except WatchmanUnavailable:
                if time.monotonic() >= deadline or self._closed:
                    raise
                if not self._lost_since(generation, deadline):
                    failures += 1
                    if failures >= WATCH_ATTEMPTS:
                        raise
                continue  # try again, once the reader is back if the connection broke
            with self._lock:
                if self._generation == generation:
                    self._roots = {r for r in self._roots if not is_covered(r, wanted)}
                    self._roots.update(wanted)
                    self._canceled = {c for c in self._canceled if not is_covered(c, wanted)}
                    return
            # Lost meanwhile, so the reconnection did not know these roots: once more.

    def clocks(self) -> dict[Path, str]:
        """Per watched root, the clock up to which every change was delivered (for ``since``)."""
        with self._lock:
            return {root: clock for root, clock in self._clocks.items() if root in self._roots}

    def watched_roots(self) -> frozenset[Path]:
        """The roots watched now (none lies below another)."""
        with self._lock:
            return frozenset(self._roots)

    def close(self) -> None:
        """Unsubscribe, end the reader thread and close both connections (idempotent)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        reader = self._reader
        if reader is not None:
            self._send_work(_Stop())
            reader.join(CLOSE_TIMEOUT)
            if reader.is_alive():
                # Its pipe stays open: closing an fd another thread may still select on
                # could hand the number to an unrelated file.
                log.warning("the Watchman reader thread did not stop within %ss", CLOSE_TIMEOUT)
            else:
                os.close(self._wake_r)
                os.close(self._wake_w)
        self._commands.close()
        with self._lock:
            self._roots.clear()
            self._clocks.clear()

    # -- main thread ---------------------------------------------------------

    def _wait_connected(self, deadline: float) -> int:
        """Wait until the reader is connected; the connection's generation."""
        while True:
            if not self._connected.wait(max(0.0, deadline - time.monotonic())):
                raise WatchmanUnavailable(
                    "Watchman is not reachable (reconnecting in the background); "
                    "check that it runs ('watchman version')"
                )
            with self._lock:
                if self._connected.is_set():
                    generation = self._generation
                    break
        if generation != self._commands_generation:
            self._commands.close()  # it talked to the Watchman that went away
            self._commands_generation = generation
        return generation

    def _lost_since(self, generation: int, deadline: float) -> bool:
        """Whether the connection broke after ``generation`` (waiting a moment for the reader
        to notice, as a command may fail just before it does)."""
        grace = min(RECONNECT_FIRST_DELAY, max(0.0, deadline - time.monotonic()))
        with self._lost:
            return self._lost.wait_for(lambda: self._generation != generation, grace)

    def _watch(self, wanted: list[Path], clocks: Mapping[Path, str], deadline: float) -> None:
        """Watch, subscribe and sync ``wanted`` (one attempt)."""
        entries: dict[str, list[tuple[Path, str]]] = {}
        for root in wanted:
            answer = self._commands.query(deadline, "watch-project", str(root))
            entries.setdefault(str(answer["watch"]), []).append(
                (root, str(answer.get("relative_path") or ""))
            )
        with self._lock:
            canceled = set(self._canceled)
            prime = self._prime_subscriptions
        works: list[_Subscribe] = []
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
                _Subscribe(
                    watch_root,
                    reduce_prefixes(prefix for _, prefix in found),
                    frozenset(root for root, _ in found),
                    catch_up=tuple(
                        _CatchUp(
                            clock,
                            reduce_prefixes(p for _, p in items),
                            frozenset(r for r, _ in items),
                        )
                        for clock, items in by_clock.items()
                    ),
                    rescan=rescan,
                )
            )
        created = {work.watch_root: self._subscribe(work, deadline) for work in works}
        settle(self._commands, created, prime=prime, deadline=deadline)

    def _subscribe(self, work: _Subscribe, deadline: float) -> str | None:
        """Have the reader thread run ``work``; the name of the new subscription, or ``None``."""
        self._send_work(work)
        try:
            return work.done.result(timeout=max(0.0, deadline - time.monotonic()))
        except concurrent.futures.TimeoutError as exc:  # not yet the builtin on Python 3.10
            # The reader carries on; the subscription it makes will be kept and reused.
            raise WatchmanUnavailable(
                f"Watchman did not confirm the subscription on {work.watch_root} in time"
            ) from exc

    def _send_work(self, work: _Subscribe | _Stop) -> None:
        """Queue work for the reader thread and wake it (subscribing needs a connection)."""
        with self._lock:
            if isinstance(work, _Subscribe) and not self._connected.is_set():
                work.done.set_exception(_away_error())
                return
            self._work.put(work)
        try:
            os.write(self._wake_w, b"\0")
        except BlockingIOError:
            pass  # the pipe is full, so the reader is already due to wake

    # -- reader thread -------------------------------------------------------

    def _read_loop(self) -> None:
        """Deliver subscription messages until stopped, reconnecting whenever the connection breaks."""
        try:
            while True:
                try:
                    self._serve()
                    return
                except (pywatchman.WatchmanError, OSError, ValueError) as exc:
                    if not self._connection_lost(exc) or not self._reconnect():
                        return
        finally:
            if self._subscriber is not None:
                self._subscriber.close()

    def _serve(self) -> None:
        """Read messages and run work on the live connection until asked to stop."""
        sock: int = self._subscriber.tport.sock.fileno()
        while True:
            readable, _, _ = select.select([sock, self._wake_r], [], [])
            if self._wake_r in readable:
                os.read(self._wake_r, 4096)
                if not self._run_work():
                    return
                # The work may have read what made the socket readable: select again.
                continue
            if sock in readable:
                self._receive_one()

    def _run_work(self) -> bool:
        """Run all queued work; ``False`` once asked to stop."""
        while True:
            try:
                work = self._work.get_nowait()
            except queue.Empty:
                return True
            if isinstance(work, _Stop):
                self._unsubscribe_all()
                return False
            if work.done.set_running_or_notify_cancel():
                try:
                    name = self._ensure_subscription(work.watch_root, work.prefixes, work.roots)
                    self._catch_up(work)
                    if sub := self._subscriptions.get(work.watch_root):
                        self._publish(sub)
                except pywatchman.CommandError as exc:
                    work.done.set_exception(
                        BackendError(
                            f"Watchman refused to subscribe to {work.watch_root}: {reason(exc)}"
                        )
                    )
                except BaseException as exc:
                    work.done.set_exception(WatchmanUnavailable(f"subscribing failed ({exc})"))
                    raise
                else:
                    work.done.set_result(name)

    def _ensure_subscription(
        self, watch_root: str, prefixes: frozenset[str], roots: frozenset[Path]
    ) -> str | None:
        """Subscribe to ``watch_root`` so that ``prefixes`` are covered too; the new name or ``None``.

        Widening replaces the subscription under a new name (Watchman 4.9 keeps both if a
        name is reused), starting from the old one's last delivered clock so nothing falls
        between.
        """
        old = self._subscriptions.get(watch_root)
        merged = reduce_prefixes([*(old.prefixes if old else ()), *prefixes])
        if old is not None and merged == old.prefixes:
            old.roots |= roots
            return None
        name = f"reloadd-{os.getpid()}-{next(_subscription_serial)}"
        since = old.clock if old else None
        answer = self._subscriber.query("subscribe", watch_root, name, query_spec(merged, since))
        recrawls = recrawl_count(answer)
        sub = _Subscription(
            name,
            merged,
            roots | (old.roots if old else frozenset()),
            # A replacement reports everything after old.clock itself (its first message).
            clock=since if since is not None else answer.get("clock"),
            expect_fresh=since is None,
            recrawls=recrawls,
        )
        self._subscriptions[watch_root] = sub
        if old is not None:
            # The new subscription reports everything after old.clock, including what the
            # old one sent meanwhile, so its messages are dropped (_drain drops the rest).
            self._subscriber.getSubscription(old.name, root=watch_root)
            try:
                self._subscriber.query("unsubscribe", watch_root, old.name)
            except pywatchman.CommandError as exc:
                log.warning("cannot unsubscribe %s: %s", old.name, reason(exc))
            if recrawls > old.recrawls:
                self._recrawled(watch_root, old.roots)
        log.debug("subscribed to %s as %s for %s", watch_root, name, sorted(merged))
        self._drain()
        return name

    def _catch_up(self, work: _Subscribe) -> None:
        """Deliver what changed since each earlier run's clock, and the rescans ``work`` asks for."""
        for catch_up in work.catch_up:
            spec = query_spec(catch_up.prefixes, catch_up.clock)
            spec["fields"] = ["name"]
            try:
                answer = self._subscriber.query("query", work.watch_root, spec)
            except pywatchman.CommandError as exc:
                log.warning(
                    "cannot resume %s from clock %s (%s); rechecking its files",
                    work.watch_root,
                    catch_up.clock,
                    reason(exc),
                )
                self._emit(ChangeBatch(rescan_roots=catch_up.roots))
                continue
            if answer.get("is_fresh_instance"):
                log.info(
                    "the saved clock of %s is from another Watchman process; rechecking its files",
                    ", ".join(map(str, sorted(catch_up.roots))),
                )
                self._emit(ChangeBatch(rescan_roots=catch_up.roots))
            elif files := answer.get("files"):
                self._emit(
                    ChangeBatch(paths=frozenset(os.path.join(work.watch_root, f) for f in files))
                )
        if work.rescan:
            self._emit(ChangeBatch(rescan_roots=work.rescan))
        self._drain()

    def _unsubscribe_all(self) -> None:
        for watch_root, sub in list(self._subscriptions.items()):
            try:
                self._subscriber.query("unsubscribe", watch_root, sub.name)
            except (pywatchman.WatchmanError, OSError, ValueError) as exc:
                log.debug("unsubscribing %s failed: %s", sub.name, exc)
                return  # closing the connection drops the rest anyway
        self._subscriptions.clear()

    def _receive_one(self) -> None:
        """Read exactly one message (it is buffered by pywatchman) and deliver it."""
        try:
            pdu = self._subscriber.receive()
            if log.isEnabledFor(logging.DEBUG):
                log.debug("from Watchman: %s", {k: v for k, v in pdu.items() if k != "files"})
        except pywatchman.CommandError as exc:
            # A whole message saying "error": the stream is still in step.
            log.error("Watchman reported an error: %s", reason(exc))
        self._drain()

    def _drain(self) -> None:
        """Deliver the subscription messages pywatchman has buffered."""
        self._subscriber.getLog()
        for watch_root, sub in list(self._subscriptions.items()):
            for pdu in self._subscriber.getSubscription(sub.name, root=watch_root) or ():
                self._deliver(watch_root, sub, pdu)
        # Messages of replaced subscriptions: covered by their replacement.
        for name in list(self._subscriber.subs):
            self._subscriber.subs.pop(name, None)
        self._subscriber.sub_by_root.clear()

    def _deliver(self, watch_root: str, sub: _Subscription, pdu: dict[str, Any]) -> None:
        if self._subscriptions.get(watch_root) is not sub:
            return  # canceled by an earlier message in the same drain
        if pdu.get("canceled"):
            self._watch_canceled(watch_root, sub)
            return
        rescan = False
        if pdu.get("is_fresh_instance") and not sub.expect_fresh:
            log.warning(
                "Watchman lost track of %s (fresh instance); rechecking its files", watch_root
            )
            rescan = True
        sub.expect_fresh = False
        recrawls = recrawl_count(pdu)
        if recrawls > sub.recrawls:
            sub.recrawls = recrawls
            rescan = True
            log.warning("Watchman recrawled %s; rechecking its files", watch_root)
        paths = frozenset(os.path.join(watch_root, entry["name"]) for entry in pdu.get("files", ()))
        if paths or rescan:
            self._emit(ChangeBatch(paths=paths, rescan_roots=sub.roots if rescan else frozenset()))
        if "clock" in pdu:
            sub.clock = pdu["clock"]
            self._publish(sub)

    def _recrawled(self, watch_root: str, roots: frozenset[Path]) -> None:
        log.warning("Watchman recrawled %s; rechecking its files", watch_root)
        self._emit(ChangeBatch(rescan_roots=roots))

    def _watch_canceled(self, watch_root: str, sub: _Subscription) -> None:
        """Watchman dropped ``watch_root`` (deleted, or ``watch-del``): forget the roots below it.

        When they are watched again, they are rescanned.
        """
        del self._subscriptions[watch_root]
        with self._lock:
            gone = {r for r in self._roots if is_covered(r, [Path(watch_root)])}
            self._roots -= gone
            self._canceled |= gone
            for root in sub.roots:
                self._clocks.pop(root, None)
        log.warning(
            "Watchman stopped watching %s; it will be watched again when needed", watch_root
        )

    def _publish(self, sub: _Subscription) -> None:
        """Make ``sub``'s delivered clock what :meth:`clocks` gives for its roots.

        Not while reconnecting: until the rescan is delivered, the old clocks stay.
        """
        if sub.clock is None:
            return
        with self._lock:
            if not self._connected.is_set():
                return
            for root in sub.roots:
                self._clocks[root] = sub.clock

    def _emit(self, batch: ChangeBatch) -> None:
        try:
            self._on_changes(batch)
        except Exception:
            # A failing consumer must not stop the reader: later changes still matter.
            log.exception(
                "the change sink failed on %d paths, %d rescans",
                len(batch.paths),
                len(batch.rescan_roots),
            )

    # -- reader thread: reconnecting -------------------------------------------

    def _connection_lost(self, exc: BaseException) -> bool:
        """Fail pending work and forget the dead subscriptions; whether to reconnect."""
        self._subscriber.close()
        self._subscriptions.clear()
        with self._lock:
            self._connected.clear()
            self._generation += 1
            self._lost.notify_all()
            closing = self._closed
        if not self._fail_work():
            return False
        if closing:
            return False
        log.warning("Watchman went away (%s); reconnecting", exc)
        return True

    def _fail_work(self) -> bool:
        """Fail queued subscribe work (there is no connection); ``False`` if asked to stop."""
        while True:
            try:
                work = self._work.get_nowait()
            except queue.Empty:
                return True
            if isinstance(work, _Stop):
                return False
            if work.done.set_running_or_notify_cancel():
                work.done.set_exception(_away_error())

    def _reconnect(self) -> bool:
        """Retry with backoff until subscribed again (``True``) or asked to stop (``False``)."""
        delay = RECONNECT_FIRST_DELAY
        while True:
            readable, _, _ = select.select([self._wake_r], [], [], delay)
            if readable:
                os.read(self._wake_r, 4096)
                if not self._fail_work():
                    return False
            delay = min(delay * 2, RECONNECT_MAX_DELAY)
            try:
                self._resubscribe()
            except (BackendError, pywatchman.WatchmanError, OSError, ValueError) as exc:
                log.debug("reconnecting to Watchman failed: %s", exc)
                if self._subscriber is not None:
                    self._subscriber.close()
                self._subscriptions.clear()
                continue
            return True

    def _resubscribe(self) -> None:
        """Connect, watch and subscribe every root again, sync, then ask for a rescan of all."""
        started = time.monotonic()
        deadline = started + RESUBSCRIBE_TIMEOUT
        self._subscriber, version = connect(self._sockpath, CONNECT_TIMEOUT)
        self._subscriber.setTimeout(PDU_TIMEOUT)
        prime = leaves_last_tick_unset(version)
        with self._lock:
            roots = self._roots | {r for r in self._canceled if r.is_dir()}
        commands = Commands(self._sockpath)
        try:
            entries: dict[str, list[tuple[Path, str]]] = {}
            dropped: set[Path] = set()
            for root in sorted(roots):
                try:
                    answer = commands.query(deadline, "watch-project", str(root))
                except WatchmanUnavailable:
                    raise
                except BackendError as exc:
                    log.warning("cannot watch %s again: %s", root, exc)
                    dropped.add(root)
                    continue
                entries.setdefault(str(answer["watch"]), []).append(
                    (root, str(answer.get("relative_path") or ""))
                )
            created = {
                watch_root: self._ensure_subscription(
                    watch_root,
                    reduce_prefixes(p for _, p in found),
                    frozenset(r for r, _ in found),
                )
                for watch_root, found in entries.items()
            }
            settle(commands, created, prime=prime, deadline=deadline)
        finally:
            commands.close()
        # Changes made while no subscription existed: the daemon re-checks its files.
        self._emit(ChangeBatch(rescan_roots=frozenset(roots)))
        with self._lock:
            self._roots = (self._roots | roots) - dropped
            self._canceled -= roots
            self._prime_subscriptions = prime
            self._connected.set()
        for sub in self._subscriptions.values():
            self._publish(sub)
        log.info(
            "Watchman is back; re-watched %d roots in %.0f ms",
            len(roots) - len(dropped),
            (time.monotonic() - started) * 1000,
        )


def _away_error() -> WatchmanUnavailable:
    return WatchmanUnavailable("the connection to Watchman broke; reconnecting in the background")
