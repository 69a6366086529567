"""The roots the daemon relies on: the one owner of "which folders are watched, and since when".

The backend watches folders; a root counts here only once its watch has finished
*and* the change history knows since when it is watched (:meth:`finished`, on the
main thread). That is a different fact from the backend's own set, which a root
joins while its watch is still under way on the watch thread: a client whose files
lie in such a root must wait for it, or changes made before the watch began would
be missed. Everything else (status, the state file, which roots a ``watch`` needs)
reads the roots through this object.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path

from reloadd.daemon.backends.base import Backend
from reloadd.daemon.history import ChangeHistory
from reloadd.daemon.roots import is_covered, roots_to_add

log = logging.getLogger("reloadd.daemon")


class WatchedRoots:
    """The roots whose watch finished, and whether the backend ever dropped one."""

    def __init__(self, backend: Backend, history: ChangeHistory) -> None:
        self._backend = backend
        self._history = history
        self._roots: frozenset[Path] = backend.watched_roots()
        self._dropped = False

    @property
    def current(self) -> frozenset[Path]:
        """The roots watched now, as far as registrations may rely on."""
        return self._roots

    @property
    def ever_dropped(self) -> bool:
        """Whether the backend ever stopped watching a root (its folder was removed)."""
        return self._dropped

    def missing(self, files: Iterable[str], glob_dirs: Iterable[str], project: Path) -> list[Path]:
        """The new roots to watch so that ``files`` and ``glob_dirs`` are covered."""
        return roots_to_add(files, glob_dirs, project, self._roots)

    def finished(
        self, new_roots: Iterable[Path], watched_at: float, backend_roots: frozenset[Path]
    ) -> None:
        """On the main thread, once the backend watches ``new_roots`` (from ``watched_at``).

        ``backend_roots`` is the backend's set read on the watch thread right after
        this watch, before the next one began (or ``new_roots`` is empty: it failed).
        """
        for root in new_roots:
            self._history.root_watched(root, watched_at)
        self._roots = backend_roots

    def forget_dropped(self) -> None:
        """Stop counting roots the backend dropped, so that a registration watches them again."""
        watched = self._backend.watched_roots()
        kept = frozenset(root for root in self._roots if is_covered(root, watched))
        if kept != self._roots:
            log.info(
                "no longer watching %s; a client registering files there watches it again",
                ", ".join(map(str, sorted(self._roots - kept))),
            )
            self._roots, self._dropped = kept, True
