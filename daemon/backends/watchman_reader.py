"""The Watchman backend's reader thread: subscription messages in, batches out, reconnecting.

The thread ``reloadd-watchman`` owns the *subscription* connection (a pywatchman client
is not thread-safe, and a subscription belongs to the connection that made it). It
sleeps in ``poll`` on that socket and on a :class:`~reloadd.protocol.wakeup.Wakeup`;
other threads hand it work through :meth:`Reader.send` (a ``subscribe`` to run, or
:class:`~reloadd.daemon.backends.watchman_subscriptions.Stop`) and wait on the work's
``Future``. Every batch is handed to the sink from this thread.

When the connection breaks (Watchman restarted, or the socket failed) it logs one
warning, fails the pending work, and reconnects with backoff
(:data:`RECONNECT_FIRST_DELAY` doubling to :data:`RECONNECT_MAX_DELAY`) for as long as
the backend is open: it watches every root again, subscribes afresh (old clocks belong
to the dead process), primes, then delivers ``rescan_roots`` for every root and logs
one info line.
"""

from __future__ import annotations

import logging
import queue
import select
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pywatchman

from reloadd.daemon.backends.base import ChangeBatch
from reloadd.daemon.backends.watchman_roots import RootResolver
from reloadd.daemon.backends.watchman_shared import SharedState
from reloadd.daemon.backends.watchman_subscriptions import Stop, Subscribe, Subscriptions
from reloadd.daemon.backends.watchman_wire import (
    CONNECT_TIMEOUT,
    Commands,
    connect,
    leaves_last_tick_unset,
    reason,
    reduce_prefixes,
    settle,
)
from reloadd.protocol.errors import BackendError, WatchmanUnavailable
from reloadd.protocol.wakeup import Wakeup

log = logging.getLogger("reloadd.daemon.watchman")

PDU_TIMEOUT = 60.0
"""Seconds the reader waits for the rest of a message once its first byte arrived,
and for the answer to a ``subscribe`` (a first query on a large tree)."""

RECONNECT_FIRST_DELAY = 0.1
"""Seconds before the first attempt to reconnect once the connection to Watchman broke."""

RECONNECT_MAX_DELAY = 2.0
"""The longest pause between two attempts to reconnect (the pause doubles up to it)."""

RESUBSCRIBE_TIMEOUT = 60.0
"""Seconds one reconnection may take to watch, subscribe and sync every root again."""


class Reader:
    """The thread that owns the subscription connection; see the module docstring."""

    def __init__(
        self,
        subscriber: object,
        *,
        sockpath: str | None,
        shared: SharedState,
        resolver: RootResolver,
        emit: Callable[[ChangeBatch], None],
    ) -> None:
        self._sockpath = sockpath
        self._shared = shared
        self._resolver = resolver
        self._emit = emit
        self._subscriptions = Subscriptions(subscriber, shared, emit)
        self._work: queue.SimpleQueue[Subscribe | Stop] = queue.SimpleQueue()
        self.wakeup = Wakeup()
        self.thread = threading.Thread(target=self._read_loop, name="reloadd-watchman", daemon=True)

    def send(self, work: Subscribe | Stop) -> None:
        """Queue work and wake the thread; a ``Subscribe`` fails at once while disconnected."""
        with self._shared.lock:
            if isinstance(work, Subscribe) and not self._shared.connected.is_set():
                work.done.set_exception(away_error())
                return
            self._work.put(work)
        self.wakeup.set()

    # -- the thread ----------------------------------------------------------------------

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
            self._subscriptions.subscriber.close()

    def _serve(self) -> None:
        """Read messages and run work on the live connection until asked to stop."""
        sock: int = self._subscriptions.subscriber.tport.sock.fileno()
        wake = self.wakeup.fileno()
        poller = select.poll()  # not select(): descriptors may be above 1024
        poller.register(sock, select.POLLIN)
        poller.register(wake, select.POLLIN)
        while True:
            ready = {fd for fd, _ in poller.poll()}
            if wake in ready:
                self.wakeup.clear()
                if not self._run_work():
                    return
                # The work may have read what made the socket readable: poll again.
                continue
            if sock in ready:
                self._subscriptions.receive_one()

    def _queued(self) -> Iterator[Subscribe | Stop]:
        """Take the queued work, oldest first, until none is left."""
        while True:
            try:
                yield self._work.get_nowait()
            except queue.Empty:
                return

    def _run_work(self) -> bool:
        """Run all queued work; ``False`` once asked to stop."""
        for work in self._queued():
            if isinstance(work, Stop):
                self._subscriptions.unsubscribe_all()
                return False
            if work.done.set_running_or_notify_cancel():
                try:
                    name = self._subscriptions.run(work)
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
        return True

    # -- reconnecting ----------------------------------------------------------------------

    def _connection_lost(self, exc: BaseException) -> bool:
        """Fail pending work and forget the dead subscriptions; whether to reconnect."""
        self._subscriptions.subscriber.close()
        self._subscriptions = Subscriptions(_Closed(), self._shared, self._emit)
        with self._shared.lock:
            self._shared.connected.clear()
            self._shared.generation += 1
            self._shared.lost.notify_all()
            closing = self._shared.closed
        if not self._fail_work():
            return False
        if closing:
            return False
        log.warning("Watchman went away (%s); reconnecting", exc)
        return True

    def _fail_work(self) -> bool:
        """Fail queued subscribe work (there is no connection); ``False`` if asked to stop."""
        for work in self._queued():
            if isinstance(work, Stop):
                return False
            if work.done.set_running_or_notify_cancel():
                work.done.set_exception(away_error())
        return True

    def _reconnect(self) -> bool:
        """Retry with backoff until subscribed again (``True``) or asked to stop (``False``)."""
        delay = RECONNECT_FIRST_DELAY
        poller = select.poll()
        poller.register(self.wakeup.fileno(), select.POLLIN)
        while True:
            if poller.poll(delay * 1000):
                self.wakeup.clear()
                if not self._fail_work():
                    return False
            delay = min(delay * 2, RECONNECT_MAX_DELAY)
            try:
                self._resubscribe()
            except (BackendError, pywatchman.WatchmanError, OSError, ValueError) as exc:
                log.debug("reconnecting to Watchman failed: %s", exc)
                self._subscriptions.subscriber.close()
                self._subscriptions = Subscriptions(_Closed(), self._shared, self._emit)
                continue
            return True

    def _resubscribe(self) -> None:
        """Connect, watch and subscribe every root again, sync, then ask for a rescan of all."""
        started = time.monotonic()
        deadline = started + RESUBSCRIBE_TIMEOUT
        subscriber, version = connect(self._sockpath, CONNECT_TIMEOUT)
        subscriber.setTimeout(PDU_TIMEOUT)
        self._subscriptions = Subscriptions(subscriber, self._shared, self._emit)
        prime = leaves_last_tick_unset(version)
        with self._shared.lock:
            roots = self._shared.roots | {r for r in self._shared.canceled if r.is_dir()}
        commands = Commands(self._sockpath)
        try:
            entries: dict[str, list[tuple[Path, str]]] = {}
            dropped: set[Path] = set()
            for root in sorted(roots):
                try:
                    watch_root, prefix = self._resolver.resolve(commands, root, deadline)
                except WatchmanUnavailable:
                    raise
                except BackendError as exc:
                    log.warning("cannot watch %s again: %s", root, exc)
                    dropped.add(root)
                    continue
                entries.setdefault(watch_root, []).append((root, prefix))
            created = {
                watch_root: self._subscriptions.ensure(
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
        with self._shared.lock:
            self._shared.roots = (self._shared.roots | roots) - dropped
            self._shared.canceled -= roots
            self._shared.prime_subscriptions = prime
            self._shared.connected.set()
        for sub in self._subscriptions:
            self._subscriptions.publish(sub)
        log.info(
            "Watchman is back; re-watched %d roots in %.0f ms",
            len(roots) - len(dropped),
            (time.monotonic() - started) * 1000,
        )


class _Closed:
    """Stands for the subscription connection while there is none."""

    def close(self) -> None:
        """Nothing to close."""


def away_error() -> WatchmanUnavailable:
    """The error of work asked for while the connection to Watchman is down."""
    return WatchmanUnavailable("the connection to Watchman broke; reconnecting in the background")
