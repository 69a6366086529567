"""The reader thread's subscriptions on one Watchman connection, and the batches they deliver.

One :class:`Subscriptions` per live subscription connection, used only by the reader
thread (:mod:`~reloadd.daemon.backends.watchman_reader`); a broken connection's is
thrown away with it. It keeps one subscription per watch root, widens it by replacing
it (never losing what happened between), turns Watchman's messages into
:class:`~reloadd.daemon.backends.base.ChangeBatch` es for the sink, and publishes each
root's delivered clock to the :class:`~reloadd.daemon.backends.watchman_shared.SharedState`.
"""

from __future__ import annotations

import itertools
import logging
import os
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pywatchman

from reloadd.daemon.backends.base import ChangeBatch
from reloadd.daemon.backends.watchman_shared import SharedState
from reloadd.daemon.backends.watchman_wire import query_spec, reason, recrawl_count, reduce_prefixes

log = logging.getLogger("reloadd.daemon.watchman")

_subscription_serial = itertools.count(1)


@dataclass
class Subscription:
    """The one subscription on a watch root."""

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
class CatchUp:
    """Changes to report since ``clock`` (from an earlier run) below the folders ``prefixes``."""

    clock: str
    prefixes: frozenset[str]
    roots: frozenset[Path]


@dataclass
class Subscribe:
    """Work for the reader: make the subscription on ``watch_root`` cover ``prefixes`` too."""

    watch_root: str
    prefixes: frozenset[str]
    roots: frozenset[Path]
    catch_up: tuple[CatchUp, ...] = ()
    """Queries to run once subscribed; their results are delivered before ``done`` is set."""
    rescan: frozenset[Path] = frozenset()
    """Roots to deliver as ``rescan_roots`` once subscribed (their watch was canceled before)."""
    done: Future[str | None] = field(default_factory=Future)
    """Set to the name of the new subscription, or ``None`` if the existing one covers all."""


class Stop:
    """Work for the reader: unsubscribe everything and end."""


class Subscriptions:
    """The subscriptions on one connection (reader thread only)."""

    def __init__(
        self, subscriber: Any, shared: SharedState, emit: Callable[[ChangeBatch], None]
    ) -> None:
        self.subscriber = subscriber
        """The pywatchman client of the subscription connection."""
        self._shared = shared
        self._emit = emit
        self._by_root: dict[str, Subscription] = {}

    def __iter__(self) -> Any:
        return iter(list(self._by_root.values()))

    def run(self, work: Subscribe) -> str | None:
        """Subscribe as ``work`` asks, deliver its catch-up, publish the clock; the new name."""
        name = self.ensure(work.watch_root, work.prefixes, work.roots)
        self._catch_up(work)
        if sub := self._by_root.get(work.watch_root):
            self.publish(sub)
        return name

    def ensure(
        self, watch_root: str, prefixes: frozenset[str], roots: frozenset[Path]
    ) -> str | None:
        """Subscribe to ``watch_root`` so that ``prefixes`` are covered too; the new name or ``None``.

        Widening replaces the subscription under a new name (Watchman 4.9 keeps both if a
        name is reused), starting from the old one's last delivered clock so nothing falls
        between.
        """
        old = self._by_root.get(watch_root)
        merged = reduce_prefixes([*(old.prefixes if old else ()), *prefixes])
        if old is not None and merged == old.prefixes:
            old.roots |= roots
            return None
        name = f"reloadd-{os.getpid()}-{next(_subscription_serial)}"
        since = old.clock if old else None
        answer = self.subscriber.query("subscribe", watch_root, name, query_spec(merged, since))
        recrawls = recrawl_count(answer)
        sub = Subscription(
            name,
            merged,
            roots | (old.roots if old else frozenset()),
            # A replacement reports everything after old.clock itself (its first message).
            clock=since if since is not None else answer.get("clock"),
            expect_fresh=since is None,
            recrawls=recrawls,
        )
        self._by_root[watch_root] = sub
        if old is not None:
            # The new subscription reports everything after old.clock, including what the
            # old one sent meanwhile, so its messages are dropped (drain drops the rest).
            self.subscriber.getSubscription(old.name, root=watch_root)
            try:
                self.subscriber.query("unsubscribe", watch_root, old.name)
            except pywatchman.CommandError as exc:
                log.warning("cannot unsubscribe %s: %s", old.name, reason(exc))
            if recrawls > old.recrawls:
                self._recrawled(watch_root, old.roots)
        log.debug("subscribed to %s as %s for %s", watch_root, name, sorted(merged))
        self.drain()
        return name

    def _catch_up(self, work: Subscribe) -> None:
        """Deliver what changed since each earlier run's clock, and the rescans ``work`` asks for."""
        for catch_up in work.catch_up:
            spec = query_spec(catch_up.prefixes, catch_up.clock)
            spec["fields"] = ["name"]
            try:
                answer = self.subscriber.query("query", work.watch_root, spec)
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
        self.drain()

    def unsubscribe_all(self) -> None:
        """Unsubscribe each subscription (best effort: closing the connection drops them too)."""
        for watch_root, sub in list(self._by_root.items()):
            try:
                self.subscriber.query("unsubscribe", watch_root, sub.name)
            except (pywatchman.WatchmanError, OSError, ValueError) as exc:
                log.debug("unsubscribing %s failed: %s", sub.name, exc)
                return  # closing the connection drops the rest anyway
        self._by_root.clear()

    def receive_one(self) -> None:
        """Read exactly one message (it is buffered by pywatchman) and deliver it."""
        try:
            pdu = self.subscriber.receive()
            if log.isEnabledFor(logging.DEBUG):
                log.debug("from Watchman: %s", {k: v for k, v in pdu.items() if k != "files"})
        except pywatchman.CommandError as exc:
            # A whole message saying "error": the stream is still in step.
            log.error("Watchman reported an error: %s", reason(exc))
        self.drain()

    def drain(self) -> None:
        """Deliver the subscription messages pywatchman has buffered."""
        self.subscriber.getLog()
        for watch_root, sub in list(self._by_root.items()):
            for pdu in self.subscriber.getSubscription(sub.name, root=watch_root) or ():
                self._deliver(watch_root, sub, pdu)
        # Messages of replaced subscriptions: covered by their replacement.
        for name in list(self.subscriber.subs):
            self.subscriber.subs.pop(name, None)
        self.subscriber.sub_by_root.clear()

    def publish(self, sub: Subscription) -> None:
        """Make ``sub``'s delivered clock the clock of its roots (not while reconnecting)."""
        self._shared.publish(sub.roots, sub.clock)

    def _deliver(self, watch_root: str, sub: Subscription, pdu: dict[str, Any]) -> None:
        if self._by_root.get(watch_root) is not sub:
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
            self.publish(sub)

    def _recrawled(self, watch_root: str, roots: frozenset[Path]) -> None:
        log.warning("Watchman recrawled %s; rechecking its files", watch_root)
        self._emit(ChangeBatch(rescan_roots=roots))

    def _watch_canceled(self, watch_root: str, sub: Subscription) -> None:
        """Watchman dropped ``watch_root`` (deleted, or ``watch-del``): forget the roots below it.

        When they are watched again, they are rescanned.
        """
        del self._by_root[watch_root]
        self._shared.forget_below(Path(watch_root), sub.roots)
        log.warning(
            "Watchman stopped watching %s; it will be watched again when needed", watch_root
        )
