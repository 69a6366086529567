"""Polling only where needed: each root to the poller or to the watcher, by its file system.

:class:`PollingRouter` wraps the chosen backend (Watchman or the built-in watcher). A
root that :class:`~reloadd.daemon.backends.mounts.PollPolicy` says must be polled (a
network or VM share, or every root under ``RELOADD_FORCE_POLLING=1``) goes to the
:class:`~reloadd.daemon.backends.poller.Poller`; every other root stays with the wrapped
backend, at the same time. The choice is logged once per root, with the reason, and
``status`` lists the polled roots.

The poller stats only what is registered, so the router is also the daemon's
:class:`~reloadd.daemon.registry.RegistrationListener`: on the main thread, it hands
the poller each newly registered file below a polled root with its state taken there
and then, and each glob whose folder lies below one.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterable, Mapping
from pathlib import Path

from reloadd.daemon.backends.base import Backend, ChangeBatch, ChangeSink
from reloadd.daemon.backends.mounts import PollPolicy
from reloadd.daemon.backends.nesting import is_within
from reloadd.daemon.backends.poller import Poller, poll_interval
from reloadd.protocol.errors import BackendError
from reloadd.protocol.file_state import stat_state

log = logging.getLogger("reloadd.daemon.poller")


class PollingRouter(Backend):
    """A started backend for the roots it can watch, and a poller for the others."""

    def __init__(
        self, inner: Backend, on_changes: ChangeSink, *, poller: Poller, policy: PollPolicy
    ) -> None:
        """``inner``: the started backend; it, ``poller`` and this router hand their batches
        to ``on_changes``."""
        super().__init__(on_changes)
        self.name = inner.name
        self.inner = inner
        self.poller = poller
        self._policy = policy

    def start(self) -> None:
        """Start the wrapped backend (a no-op when it runs already); the poller needs nothing."""
        self.inner.start()

    def watch_roots(
        self, roots: Iterable[Path], *, timeout: float, since: Mapping[Path, str] | None = None
    ) -> None:
        """Poll the roots that need it, and have the wrapped backend watch the others.

        A polled root keeps no clock: one given in ``since`` (an earlier run watched it)
        is answered with a rescan of that root, as the built-in watcher does.
        """
        watched: list[tuple[str, str | None]] = []
        polled: list[tuple[str, str | None]] = []
        for given in roots:
            real = os.path.realpath(given)
            if self.poller.covers(real):
                continue
            reason = self._policy.reason(real)
            (polled if reason else watched).append((real, reason))
        if watched:
            self.inner.watch_roots([Path(r) for r, _ in watched], timeout=timeout, since=since)
        if not polled:
            return
        new = self.poller.add_roots(root for root, _ in polled)
        for name, reason in polled:
            if name in new:
                log.warning(
                    "polling %s every %g s, as %s: file events do not reach this machine "
                    "from there (RELOADD_POLL_INTERVAL sets the interval)",
                    name,
                    self.poller.interval,
                    reason,
                )
        with_clock = {os.path.realpath(root) for root in since or {}}
        rescan = frozenset(Path(name) for name in new if name in with_clock)
        if rescan:
            self._on_changes(ChangeBatch(rescan_roots=rescan))

    def clocks(self) -> dict[Path, str]:
        """The wrapped backend's clocks (polled roots keep none)."""
        return self.inner.clocks()

    def watched_roots(self) -> frozenset[Path]:
        """The roots watched and those polled (none lies below another of the same kind)."""
        return self.inner.watched_roots() | self.poller.roots()

    def polled_roots(self) -> frozenset[Path]:
        """The roots polled, not watched."""
        return self.poller.roots()

    def close(self) -> None:
        """Stop the poller, then the wrapped backend (idempotent)."""
        self.poller.close()
        self.inner.close()

    # -- RegistrationListener, on the main thread ----------------------------------------

    def files_added(self, paths: list[str]) -> None:
        """Poll those of ``paths`` below a polled root, from their state now."""
        below = self.poller.below(paths)
        if below:
            self.poller.track({path: stat_state(path) for path in below})

    def files_removed(self, paths: list[str]) -> None:
        """Stop polling ``paths``."""
        below = self.poller.below(paths)
        if below:
            self.poller.untrack(below)

    def glob_added(self, directory: str, pattern: str) -> None:
        """Poll the glob's matches if its folder lies below (or is) a polled root."""
        if self._polled(directory):
            self.poller.track_glob(directory, pattern, since=time.time())

    def glob_removed(self, directory: str, pattern: str) -> None:
        """Stop polling the glob's matches."""
        if self._polled(directory):
            self.poller.untrack_glob(directory, pattern)

    def _polled(self, directory: str) -> bool:
        return any(is_within(directory, root) for root in self.poller.roots())


def with_polling(
    inner: Backend, on_changes: ChangeSink, env: Mapping[str, str] | None = None
) -> PollingRouter:
    """``inner`` (started, reporting to ``on_changes``) with a poller for the roots that need
    one, as the environment's overrides say (see :mod:`~reloadd.daemon.backends.mounts`).

    Raises :class:`~reloadd.protocol.BackendError` for a bad ``RELOADD_POLL_INTERVAL``
    (``inner`` closed).
    """
    try:
        interval = poll_interval(env)
    except BackendError:
        inner.close()
        raise
    poller = Poller(on_changes, interval=interval)
    router = PollingRouter(inner, on_changes, poller=poller, policy=PollPolicy(env))
    if router._policy.forced:
        log.info("RELOADD_FORCE_POLLING is set: every root is polled, none watched")
    return router
