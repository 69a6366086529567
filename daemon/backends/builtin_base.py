"""What both built-in watchers share: roots as real-path strings, and adding them.

The built-in watchers (:mod:`~reloadd.daemon.backends.inotify_backend` on Linux,
:mod:`~reloadd.daemon.backends.watchfiles_backend` elsewhere) keep their roots as
real-path strings, none below another, so that a change's path is matched to its root
by a prefix test alone. :class:`BuiltinBackendBase` decides which roots a
:meth:`~BuiltinBackendBase.watch_roots` call adds; each watcher only sets them up.
"""

from __future__ import annotations

import logging
import os
import stat
import threading
import time
from abc import abstractmethod
from collections.abc import Iterable, Mapping
from pathlib import Path

from reloadd.daemon.backends.base import Backend, ChangeBatch, ChangeSink
from reloadd.daemon.backends.nesting import is_covered, outermost
from reloadd.daemon.backends.vcs_hold import VcsHold
from reloadd.protocol.errors import BackendError

log = logging.getLogger("reloadd.daemon.builtin")

CLOSE_TIMEOUT = 5.0
"""Seconds a built-in watcher's ``close()`` waits for all its threads together."""

RETRY_DELAY = 1.0
"""Seconds a built-in watcher waits after an unexpected error before trying again."""


class BuiltinBackendBase(Backend):
    """A built-in watcher: its roots, its lock, its VCS hold; subclasses set roots up."""

    name = "builtin"

    def __init__(self, on_changes: ChangeSink) -> None:
        super().__init__(on_changes)
        self._lock = threading.Lock()
        """Held while the roots, and what watches them, change."""
        self._closing = threading.Event()
        self._hold = VcsHold()
        self._roots: frozenset[str] = frozenset()
        """The roots watched now (none lies below another)."""

    def start(self) -> None:
        """Nothing to connect to; raises :class:`BackendError` once closed."""
        if self._closing.is_set():
            raise BackendError("this built-in watcher was closed; create a new one")

    def watch_roots(
        self, roots: Iterable[Path], *, timeout: float, since: Mapping[Path, str] | None = None
    ) -> None:
        """Watch each root not yet covered; any change made after this returns is reported.

        The watches are set up here, in the caller's thread, so there is nothing to wait
        for afterwards. ``timeout`` is checked before the set-up. A new root with a
        ``since`` clock (the built-in watchers keep none, so another backend gave it) is
        reported at once as a batch with ``rescan_roots``.
        """
        deadline = time.monotonic() + timeout
        with_clock = {os.path.realpath(os.fspath(root)) for root in since or {}}
        wanted = {os.path.realpath(os.fspath(root)) for root in roots}
        with self._lock:
            if self._closing.is_set():
                raise BackendError("this built-in watcher was closed; create a new one")
            new = outermost(root for root in wanted if not is_covered(root, self._roots))
            if not new:
                return
            for root in sorted(new):
                check_folder(root)
            if time.monotonic() > deadline:
                raise BackendError(
                    f"timed out after {timeout:g}s before setting up the built-in watcher "
                    f"for {', '.join(sorted(new))}"
                )
            self._add_roots(new)
        log.debug("watching %s with the built-in watcher", ", ".join(sorted(new)))
        self._rescan(new & with_clock)

    def watched_roots(self) -> frozenset[Path]:
        """The roots watched now (none lies below another)."""
        with self._lock:
            return frozenset(Path(root) for root in self._roots)

    @staticmethod
    def _join(threads: Iterable[threading.Thread]) -> None:
        """Wait for ``threads`` to end, at most :data:`CLOSE_TIMEOUT` for all (laggards logged)."""
        deadline = time.monotonic() + CLOSE_TIMEOUT
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))
            if thread.is_alive():
                log.warning(
                    "the built-in watcher thread %r did not stop within %ss",
                    thread.name,
                    CLOSE_TIMEOUT,
                )

    @abstractmethod
    def _add_roots(self, new: frozenset[str]) -> None:
        """Watch ``new`` (folders, none covered yet) and add them to ``_roots`` (lock held)."""

    def _rescan(self, roots: Iterable[str]) -> None:
        """Tell the sink that changes under ``roots`` may have been missed."""
        batch = ChangeBatch(rescan_roots=frozenset(Path(root) for root in roots))
        if not batch.rescan_roots:
            return
        try:
            self._on_changes(batch)
        except Exception:
            log.exception("the change sink failed on a rescan of %d roots", len(batch.rescan_roots))


def check_folder(root: str) -> None:
    """Raise :class:`BackendError` unless ``root`` is a folder."""
    try:
        mode = os.stat(root).st_mode
    except FileNotFoundError:
        raise BackendError(f"cannot watch {root}: no such folder") from None
    except OSError as exc:
        raise BackendError(f"cannot watch {root}: {exc.strerror}") from exc
    if not stat.S_ISDIR(mode):
        raise BackendError(f"cannot watch {root}: not a folder")
