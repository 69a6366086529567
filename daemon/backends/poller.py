"""The poller: registered files on roots no watcher can see, checked by ``stat`` every interval.

Used for the roots :class:`~reloadd.daemon.backends.mounts.PollPolicy` picks (network and
VM shares), next to Watchman or the built-in watcher for every other root (see
:mod:`~reloadd.daemon.backends.polling_router`). It never walks a root: it stats the
files clients registered there, and the folders and matches of their globs
(:mod:`~reloadd.daemon.backends.polled_glob`), so a check costs one ``stat`` per
registered path whatever the size of the tree.

Threads: the daemon's main thread calls :meth:`Poller.track`, :meth:`Poller.untrack`,
:meth:`Poller.track_glob` and :meth:`Poller.untrack_glob` as registrations change;
they only queue the change under the lock. The poller's own thread ``reloadd-poll``
applies the queue, stats everything, and hands the changed paths to the sink as a
:class:`~reloadd.daemon.backends.base.ChangeBatch` (a path created, edited or removed:
a file registered while missing is reported when it appears). The stats run outside
the lock, so a share that hangs never blocks the main thread.

No change is lost between a registration and the first check: a file's state is taken
on the main thread when it is registered (:meth:`Poller.track` is given it), and a
glob's matches written after it was registered are reported at its first check.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from reloadd.daemon.backends.base import ChangeBatch, ChangeSink
from reloadd.daemon.backends.nesting import folder_prefixes, outermost
from reloadd.daemon.backends.polled_glob import PolledGlob
from reloadd.protocol.errors import BackendError
from reloadd.protocol.file_state import FileState

log = logging.getLogger("reloadd.daemon.poller")

POLL_INTERVAL = 1.0
"""Seconds between two checks of the polled files, unless ``RELOADD_POLL_INTERVAL`` says."""

POLL_INTERVAL_VAR = "RELOADD_POLL_INTERVAL"
"""The environment variable setting the poll interval in seconds (0.1 to 60)."""

_INTERVAL_RANGE = (0.1, 60.0)

CLOSE_TIMEOUT = 5.0
"""Seconds :meth:`Poller.close` waits for the poll thread (a stat on a hung share may block)."""

_GlobKey = tuple[str, str]
"""A glob on the poller: the real path of its folder, and its pattern."""


@dataclass(frozen=True)
class _Track:
    states: dict[str, FileState]


@dataclass(frozen=True)
class _Untrack:
    paths: list[str]


@dataclass(frozen=True)
class _TrackGlob:
    key: _GlobKey
    since: float


@dataclass(frozen=True)
class _UntrackGlob:
    key: _GlobKey


_Change = _Track | _Untrack | _TrackGlob | _UntrackGlob
"""A registration change the main thread queues for the poll thread."""


def poll_interval(env: Mapping[str, str] | None = None) -> float:
    """The interval from ``RELOADD_POLL_INTERVAL``, else :data:`POLL_INTERVAL`.

    Raises :class:`~reloadd.protocol.BackendError` for a value that is not a number of
    seconds within 0.1 to 60.
    """
    value = (os.environ if env is None else env).get(POLL_INTERVAL_VAR, "").strip()
    if not value:
        return POLL_INTERVAL
    try:
        seconds = float(value)
    except ValueError:
        seconds = -1.0
    low, high = _INTERVAL_RANGE
    if not low <= seconds <= high:
        raise BackendError(
            f"{POLL_INTERVAL_VAR}={value!r} is not a number of seconds from {low:g} to {high:g}"
        )
    return seconds


class Poller:
    """Polls the registered files and globs under its roots on one thread."""

    def __init__(self, on_changes: ChangeSink, *, interval: float = POLL_INTERVAL) -> None:
        self._on_changes = on_changes
        self.interval = interval
        self._lock = threading.Lock()
        """Guards ``_roots``, ``_prefixes`` and ``_queue``, which the main thread writes."""
        self._roots: frozenset[str] = frozenset()
        self._prefixes: tuple[str, ...] = ()
        self._queue: list[_Change] = []
        """Registration changes for the poll thread to apply, in order."""
        self._closing = threading.Event()
        self._thread: threading.Thread | None = None
        # The poll thread only:
        self._files: dict[str, FileState] = {}
        self._globs: dict[_GlobKey, PolledGlob] = {}

    # -- any thread -------------------------------------------------------------------

    def roots(self) -> frozenset[Path]:
        """The roots polled now (none below another)."""
        with self._lock:
            return frozenset(Path(root) for root in self._roots)

    def add_roots(self, roots: Iterable[str]) -> frozenset[str]:
        """Poll ``roots`` (real paths) from now on; the ones that were not polled yet.

        A root is polled until the poller closes, even while its folder is missing
        (its files are then reported as removed, and again when they come back).
        """
        with self._lock:
            if self._closing.is_set():
                raise BackendError("the poller was closed; create a new one")
            new = frozenset(roots) - self._roots
            new = frozenset(root for root in new if not root.startswith(self._prefixes))
            if not new:
                return new
            if self._thread is None:
                thread = threading.Thread(target=self._run, name="reloadd-poll", daemon=True)
                try:
                    thread.start()
                except RuntimeError as exc:
                    raise BackendError(f"cannot start the poll thread: {exc}") from exc
                self._thread = thread
            self._roots = outermost((*self._roots, *new))
            self._prefixes = folder_prefixes(self._roots)
        return new

    def covers(self, path: str) -> bool:
        """Whether ``path`` is a polled root or lies below one."""
        with self._lock:
            return path in self._roots or (bool(self._prefixes) and path.startswith(self._prefixes))

    def below(self, paths: Iterable[str]) -> list[str]:
        """Those of ``paths`` below a polled root (none when nothing is polled, at no cost)."""
        with self._lock:
            prefixes = self._prefixes
        if not prefixes:
            return []
        return [path for path in paths if path.startswith(prefixes)]

    # -- the main thread: registrations --------------------------------------------------

    def track(self, states: Mapping[str, FileState]) -> None:
        """Poll these files (real paths below a polled root), from the state each is in."""
        if states:
            with self._lock:
                self._queue.append(_Track(dict(states)))

    def untrack(self, paths: Iterable[str]) -> None:
        """Stop polling these files."""
        paths = list(paths)
        if paths:
            with self._lock:
                self._queue.append(_Untrack(paths))

    def track_glob(self, directory: str, pattern: str, *, since: float) -> None:
        """Poll the matches of a glob whose folder (a real path) lies below a polled root."""
        with self._lock:
            self._queue.append(_TrackGlob((directory, pattern), since))

    def untrack_glob(self, directory: str, pattern: str) -> None:
        """Stop polling a glob's matches."""
        with self._lock:
            self._queue.append(_UntrackGlob((directory, pattern)))

    def close(self) -> None:
        """Stop the poll thread (waiting at most :data:`CLOSE_TIMEOUT`); idempotent."""
        self._closing.set()
        with self._lock:
            thread, self._roots, self._prefixes = self._thread, frozenset(), ()
        if thread is not None:
            thread.join(CLOSE_TIMEOUT)
            if thread.is_alive():
                log.warning("the poll thread did not stop within %ss", CLOSE_TIMEOUT)

    # -- the poll thread ---------------------------------------------------------------

    def _run(self) -> None:
        while not self._closing.wait(self.interval):
            try:
                self._apply_queue()
                changed = self.check()
            except Exception:
                log.exception("a poll of the registered files failed; polling on")
                continue
            if changed and not self._closing.is_set():
                try:
                    self._on_changes(ChangeBatch(paths=frozenset(changed)))
                except Exception:
                    log.exception("the change sink failed on %d polled paths", len(changed))

    def _apply_queue(self) -> None:
        with self._lock:
            queue, self._queue = self._queue, []
        for change in queue:
            if isinstance(change, _Track):
                for path, state in change.states.items():
                    self._files.setdefault(path, state)
            elif isinstance(change, _Untrack):
                for path in change.paths:
                    self._files.pop(path, None)
            elif isinstance(change, _TrackGlob):
                if change.key not in self._globs:
                    directory, pattern = change.key
                    self._globs[change.key] = PolledGlob(directory, pattern, since=change.since)
            else:
                self._globs.pop(change.key, None)

    def check(self) -> set[str]:
        """Stat every polled path once; those whose state changed since the last check.

        (The poll thread's; public so that the bench can time one check.)
        """
        changed: set[str] = set()
        files = self._files
        stat = os.stat
        for path, before in files.items():
            try:
                info = stat(path)
            except OSError:
                now: FileState = None
            else:
                now = (info.st_mtime_ns, info.st_ctime_ns, info.st_size)
            if now != before:
                changed.add(path)
                files[path] = now  # an existing key: the dict keeps its size while iterated
        for glob in self._globs.values():
            changed |= glob.check()
        return changed
