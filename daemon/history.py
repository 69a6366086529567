"""What changed, and when: the daemon's memory that makes a restart lose no change.

It combines the :class:`ChangeLog` (changes seen under roots watched all along),
the :class:`FileStates` of registered files (for rescans and for roots watched
only recently), and when each root started being watched. Given a ``since``
time, it answers which of a client's files changed after it.

Changes come from the backend's batches and from editors' save reports. A write
that both report is one change: whichever comes second finds the file in the
state the first one saw, and is dropped.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping
from pathlib import Path

from reloadd.daemon.backends.base import ChangeBatch
from reloadd.daemon.change_log import ChangeLog
from reloadd.daemon.file_states import FileStates
from reloadd.daemon.glob_scan import ScanBudget, glob_files
from reloadd.protocol import GlobSpec
from reloadd.protocol.file_state import FileState, stat_state, touched_after
from reloadd.protocol.globs import glob_match
from reloadd.protocol.limits import MAX_SINCE_SCAN_ENTRIES

log = logging.getLogger("reloadd.daemon")

REPORT_SECONDS = 60.0
"""How long the state a save report saw is kept, to recognise the watcher's report of that
write (Watchman's settle and VCS deferral report it well within this)."""

MAX_REPORTED = 50_000
"""Most reported paths whose state is kept at once; the oldest are forgotten first."""


class ChangeHistory:
    """Recent changes, file states, and since when each root is watched."""

    def __init__(self) -> None:
        self.log = ChangeLog()
        self.states = FileStates()
        self._root_since: dict[Path, float] = {}
        self._reported: dict[str, tuple[FileState, float]] = {}
        """Real path → its state when a save report recorded it, and when (oldest first)."""

    def root_watched(self, root: Path, since: float) -> None:
        """Record that every change under ``root`` after ``since`` reaches :meth:`observe`."""
        self._root_since[root] = since

    def observe(self, batch: ChangeBatch, at: float | None = None) -> set[str]:
        """Take in a backend batch; return the real paths that changed.

        Paths of a rescan are only those tracked files whose state really changed.
        """
        at = time.time() if at is None else at
        paths = batch.paths - self._reported_first(batch.paths) if self._reported else batch.paths
        changed = set(paths)
        if batch.rescan_roots:
            changed |= self.states.refresh(self.states.under(batch.rescan_roots))
        self.states.refresh(paths)
        self.log.record(changed, at)
        return changed

    def report(self, paths: Iterable[str], at: float | None = None) -> set[str]:
        """Take in an editor's save report of real paths; return those that changed.

        A registered file changed if its state differs from the kept one. Any other
        path changed unless an earlier report saw it in the same state, or the backend
        reported it after its last write (its mtime or ctime). Changed paths are
        logged, and their state kept so that the backend's report of the same write
        is dropped by :meth:`observe`.
        """
        at = time.time() if at is None else at
        changed: set[str] = set()
        for path in set(paths):
            if path in self.states:
                if not self.states.refresh((path,)):
                    continue
                state = self.states.get(path)
            else:
                state = stat_state(path)
                earlier = self._reported.get(path)
                if earlier is not None and earlier[0] == state:
                    continue
                if state is not None and self.log.seen_since(path, max(state[:2]) / 1e9):
                    continue
            self._reported.pop(path, None)
            self._reported[path] = (state, at)
            changed.add(path)
        self._forget_old_reports(at)
        self.log.record(changed, at)
        return changed

    def _reported_first(self, paths: frozenset[str]) -> set[str]:
        """The paths a save report recorded first that are still in the state it saw."""
        echoes: set[str] = set()
        for path in paths:
            reported = self._reported.get(path)
            if reported is None:
                continue
            if stat_state(path) == reported[0]:
                echoes.add(path)
            else:
                del self._reported[path]  # written again since: the backend's report is news
        return echoes

    def _forget_old_reports(self, now: float) -> None:
        while self._reported:
            oldest = next(iter(self._reported))
            if (
                len(self._reported) <= MAX_REPORTED
                and self._reported[oldest][1] >= now - REPORT_SECONDS
            ):
                return
            del self._reported[oldest]

    def track(
        self, files: Mapping[str, str], globs: Mapping[GlobSpec, str], since: float
    ) -> set[str]:
        """Start tracking newly registered files; return those (as given) edited after ``since``.

        A file counts when it was changed after ``since`` (the change log says so for
        roots watched since before then; for roots watched only later, the file's own
        mtime and ctime tell) and its mtime or ctime is after ``since`` now, or it is
        gone: a file written before ``since`` is as the client read it, even when the
        watcher reports that write late. Glob matches count the same way.
        """
        new_states = self.states.track(files.values())
        if since <= 0:
            return set()
        recent = self.log.changed_since(since)
        late_roots = tuple(
            str(root).rstrip("/") + "/" for root, at in self._root_since.items() if at > since
        )
        changed: set[str] = set()
        if not recent and not late_roots:
            return changed  # a restart with nothing changed: no need to look at 20,000 files
        for given, real in files.items():
            in_log = real in recent
            if not in_log and not (late_roots and real.startswith(late_roots)):
                continue
            state = new_states[real] if real in new_states else stat_state(real)
            if touched_after(state, since) or (in_log and state is None):
                changed.add(given)
        if recent and globs:
            changed |= _glob_matches(globs, recent, since)
        if late_roots and globs:
            changed |= self._globbed_files_touched_after(globs, late_roots, since)
        return changed

    def forget_untracked(self, still_registered: set[str]) -> None:
        """Drop the states of files no client registers any more."""
        self.states.untrack(set(self.states.paths()) - still_registered)

    def _globbed_files_touched_after(
        self, globs: Mapping[GlobSpec, str], late_roots: tuple[str, ...], since: float
    ) -> set[str]:
        """Files matching globs under roots watched only recently, written after ``since``.

        One walk per glob folder, within :data:`MAX_SINCE_SCAN_ENTRIES` entries in all.
        """
        budget = ScanBudget(MAX_SINCE_SCAN_ENTRIES)
        found: set[str] = set()
        for glob, real_dir in globs.items():
            base = real_dir.rstrip("/") + "/"
            if not base.startswith(late_roots):
                continue
            for relative in glob_files(real_dir, glob.pattern, budget):
                if touched_after(stat_state(base + relative), since):
                    found.add(glob.directory.rstrip("/") + "/" + relative)
            if budget.exhausted:
                log.warning(
                    "stopped looking for files changed since %.3f after %d folder entries "
                    "(MAX_SINCE_SCAN_ENTRIES): matches of glob %r in %s and of later globs "
                    "that changed while the client started are not reported",
                    since,
                    MAX_SINCE_SCAN_ENTRIES,
                    glob.pattern,
                    glob.directory,
                )
                break
        return found


def _glob_matches(globs: Mapping[GlobSpec, str], paths: Iterable[str], since: float) -> set[str]:
    """The paths matching a glob that were written after ``since`` (or are gone), as given."""
    found: set[str] = set()
    for glob, real_dir in globs.items():
        for path in paths:
            relative = glob_match(real_dir, glob.pattern, path)
            if relative is not None:
                state = stat_state(path)
                if state is None or touched_after(state, since):
                    found.add(glob.directory.rstrip("/") + "/" + relative)
    return found
