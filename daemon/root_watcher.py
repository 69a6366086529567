"""The watch thread: new roots are watched off the main thread, the result handed back as data.

A first watch of a big tree can take seconds (Watchman crawls it); meanwhile the
main loop keeps answering everyone else. One root watch runs at a time, in order,
so that the backend's set of roots read right after a watch is that watch's result.
"""

from __future__ import annotations

import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from reloadd.daemon.backends.base import Backend
from reloadd.daemon.inbox import Inbox
from reloadd.daemon.registry import ClientId
from reloadd.protocol import BackendError, GlobSpec, Watch

log = logging.getLogger("reloadd.daemon")

WATCH_TIMEOUT = 30.0
"""Seconds a backend may take to start watching a new root (a first crawl of a large tree)."""


@dataclass(frozen=True)
class PendingWatch:
    """A ``watch`` request waiting for new roots: registered once they are watched."""

    identity: ClientId
    watch: Watch
    files: dict[str, str]
    """Each file as given → its real path."""
    globs: dict[GlobSpec, str]
    """Each glob → the real path of its folder."""


@dataclass(frozen=True)
class RootsWatched:
    """The outcome of one root watch, for the main thread to complete."""

    new_roots: tuple[Path, ...]
    pending: PendingWatch
    started: float
    """``time.monotonic()`` when the watch began."""
    watched_at: float
    """Unix time when the backend watched them: changes after it are reported."""
    backend_roots: frozenset[Path]
    """The backend's roots right after this watch."""
    error: BackendError | None


class RootWatcher:
    """Runs root watches on one thread; their outcomes arrive in :attr:`done`."""

    def __init__(self, backend: Backend, *, timeout: float = WATCH_TIMEOUT) -> None:
        self._backend = backend
        self._timeout = timeout
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="reloadd-watch")
        self.done: Inbox[RootsWatched] = Inbox()
        """Outcomes, drained by the main loop."""

    def submit(self, new_roots: list[Path], pending: PendingWatch) -> None:
        """Watch ``new_roots`` on the watch thread, then hand the outcome to :attr:`done`."""
        self._thread.submit(self._watch, tuple(new_roots), pending)

    def _watch(self, new_roots: tuple[Path, ...], pending: PendingWatch) -> None:
        started = time.monotonic()
        error: BackendError | None = None
        try:
            self._backend.watch_roots(list(new_roots), timeout=self._timeout)
        except BackendError as exc:
            error = exc
        except Exception as exc:  # a bug in a backend must not leave the client waiting forever
            log.exception("watching %s failed", ", ".join(map(str, new_roots)))
            error = BackendError(f"watching {', '.join(map(str, new_roots))} failed: {exc}")
        backend_roots = self._backend.watched_roots()
        outcome = RootsWatched(new_roots, pending, started, time.time(), backend_roots, error)
        try:
            self.done.put(outcome)
        except OSError:  # the daemon closed while this root was being watched
            pass

    def close(self) -> None:
        """Cancel waiting watches (a running one ends with the backend), close the inbox."""
        self._thread.shutdown(wait=False, cancel_futures=True)
        self.done.close()
