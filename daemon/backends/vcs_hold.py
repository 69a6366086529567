"""Holding changes back while git or hg rewrites a working tree: the built-in ``defer_vcs``.

A checkout that rewrites thousands of files pauses between writes; without a hold,
each pause longer than the watcher's step would end a batch. While the lock file of
the repository holding a root exists (``.git/index.lock``, ``.hg/wlock``), changes under
that root are kept back, and reported together once it is gone, as Watchman's
``defer_vcs`` does. A stale lock must not deafen the daemon: after
:data:`VCS_HOLD_LIMIT` the held changes are reported anyway.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Collection
from pathlib import Path

from reloadd.daemon.backends.nesting import root_of

log = logging.getLogger("reloadd.daemon.builtin")

VCS_HOLD_LIMIT = 30.0
"""Seconds changes are held back while a git/hg lock exists (a stale lock must not deafen us)."""


class VcsHold:
    """Changes held back per root while its repository is locked; safe to use from any thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._held: dict[str, set[str]] = {}
        self._held_since: dict[str, float] = {}

    def holding(self) -> bool:
        """Whether any change is held back now (so the caller should call :meth:`settle` again)."""
        with self._lock:
            return bool(self._held)

    def settle(self, paths: Collection[str], roots: Collection[str]) -> set[str]:
        """The paths to report now: ``paths`` and earlier held ones whose root is not locked.

        ``roots`` are the watched roots (none below another); paths under a root whose
        repository is locked are kept back, paths outside every root are never held.
        """
        by_root: dict[str, set[str]] = {}
        ready: set[str] = set()
        for path in paths:
            root = root_of(path, roots)
            if root is None:
                ready.add(path)
            else:
                by_root.setdefault(root, set()).add(path)
        now = time.monotonic()
        with self._lock:
            for root in by_root.keys() | self._held.keys():
                new = by_root.get(root, set())
                if any(os.path.exists(lock) for lock in vcs_locks(root)):
                    since = self._held_since.setdefault(root, now)
                    if now - since < VCS_HOLD_LIMIT:
                        self._held.setdefault(root, set()).update(new)
                        continue
                    log.warning(
                        "a version-control lock for %s has been held for %.0f s; "
                        "reporting changes anyway",
                        root,
                        now - since,
                    )
                ready |= new | self._held.pop(root, set())
                self._held_since.pop(root, None)
        return ready


def vcs_locks(root: str) -> tuple[str, ...]:
    """The lock files of the git or hg repositories holding ``root`` (at it or above it)."""
    locks: list[str] = []
    for folder in (Path(root), *Path(root).parents):
        if (folder / ".git").is_dir():
            locks.append(str(folder / ".git" / "index.lock"))
        if (folder / ".hg").is_dir():
            locks.append(str(folder / ".hg" / "wlock"))
    return tuple(locks)
