"""Continuity across daemon restarts: resume the previous run's watches, save this run's.

The file format lives in :mod:`reloadd.daemon.saved_state`; this module decides
what to do with it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from reloadd.daemon import saved_state
from reloadd.daemon.backends.base import Backend
from reloadd.daemon.history import ChangeHistory
from reloadd.protocol import BackendError

log = logging.getLogger("reloadd.daemon")


class StateKeeper:
    """Keeps one project's daemon state file in step with the backend's roots and clocks."""

    def __init__(
        self, path: Path, backend: Backend, history: ChangeHistory, *, watch_timeout: float
    ) -> None:
        self.path = path
        self._backend = backend
        self._history = history
        self._watch_timeout = watch_timeout
        self._saved_clocks: dict[str, str] = {}
        self._saved_roots: list[str] = []
        self._save_failed = False
        """Whether the last save failed (a run of failures is logged once)."""

    def resume(self) -> None:
        """Watch the roots the previous daemon watched, from its last clocks where it kept any."""
        state = saved_state.load(self.path)
        roots = [Path(root) for root in state.roots if Path(root).is_dir()]
        if not roots:
            return
        same_backend = state.backend == self._backend.name
        clocks = {Path(r): c for r, c in state.clocks.items()} if same_backend else {}
        started = time.time()
        try:
            self._backend.watch_roots(roots, timeout=self._watch_timeout, since=clocks)
        except BackendError as exc:
            log.warning("could not resume watching %s: %s", ", ".join(map(str, roots)), exc)
            return
        for root in self._backend.watched_roots():
            # With a clock, the backend reports what changed since the previous daemon's
            # last save; without one, files are checked by their mtime when registered.
            self._history.root_watched(root, state.saved_at if root in clocks else started)
        log.info(
            "resumed watching %s%s",
            ", ".join(map(str, roots)),
            " from the previous daemon's clocks" if clocks else "",
        )

    def save(
        self, roots: Iterable[Path], *, flush: Callable[[], None], force: bool = False
    ) -> None:
        """Save ``roots`` and the backend's clocks if either changed (or ``force``).

        Roots count too: the built-in watchers keep no clocks, and a daemon killed later
        must still leave its successor the roots to watch at once.

        Never raises for an unwritable state folder: that is logged, once.

        ``flush`` must dispatch every batch already handed over by the backend:
        the clocks taken here cover those, so they must not be lost in a crash
        right after the save.
        """
        clocks = {str(root): clock for root, clock in self._backend.clocks().items()}
        names = sorted(map(str, roots))
        if not force and clocks == self._saved_clocks and names == self._saved_roots:
            return
        flush()
        self._saved_clocks, self._saved_roots = clocks, names
        state = saved_state.SavedState(
            backend=self._backend.name, saved_at=time.time(), clocks=clocks, roots=names
        )
        try:
            saved_state.save(self.path, state)
        except OSError as exc:
            # Best effort: the daemon serves on without it; only its successor loses the
            # head start. Said once, as it would fail the same way every second.
            if not self._save_failed:
                log.warning(
                    "could not save the daemon state to %s (%s); a restarted daemon will not "
                    "resume this one's watches; set XDG_STATE_HOME to a writable folder",
                    self.path,
                    exc,
                )
            self._save_failed = True
        else:
            self._save_failed = False
