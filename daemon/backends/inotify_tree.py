"""The folders one inotify instance watches, and what its events mean as paths (Linux).

inotify watches single folders, not trees, and names a folder in its events by a
watch descriptor. :class:`InotifyTree` keeps the map between the two: it adds a watch
to every folder of a tree (:meth:`InotifyTree.watch_tree`), to folders created or
moved in later (the caller hands back :attr:`Events.new_folders`), and turns raw events
into changed paths (:meth:`InotifyTree.read`). It owns no thread: its descriptor is
read when :meth:`InotifyTree.fileno` is readable, so whoever reads it can sleep in
``poll`` and cost nothing while no file changes.

Every method may be called from any thread: a watch is added and entered in the map
under one lock, and events are translated under it, so an event is never read for a
watch the map does not know yet.

The syscalls come from ``inotify_simple`` (a small ctypes wrapper that also parses the
event records).
"""

from __future__ import annotations

import errno
import logging
import os
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field

from inotify_simple import INotify, flags

from reloadd.daemon.backends.nesting import is_covered, is_within
from reloadd.protocol.errors import BackendError

log = logging.getLogger("reloadd.daemon.builtin")

WATCH_MASK = (
    flags.MODIFY
    | flags.ATTRIB
    | flags.CREATE
    | flags.DELETE
    | flags.MOVED_FROM
    | flags.MOVED_TO
    | flags.DELETE_SELF
    | flags.MOVE_SELF
    | flags.ONLYDIR
    | flags.DONT_FOLLOW
    | flags.EXCL_UNLINK
)
"""What every folder is watched for: any change to an entry, and the folder's own end.

``ONLYDIR`` and ``DONT_FOLLOW`` keep a folder replaced by a file or a symlink
meanwhile from being watched; ``EXCL_UNLINK`` drops events on files already removed.
"""

_SELF_ENDED = flags.DELETE_SELF | flags.MOVE_SELF


@dataclass
class Events:
    """What one read of the inotify descriptor reported."""

    paths: set[str] = field(default_factory=set)
    """Absolute paths of the files and folders created, changed, moved or removed."""
    new_folders: list[str] = field(default_factory=list)
    """Folders created or moved in: not watched yet, and maybe already holding files."""
    moved_away: set[str] = field(default_factory=set)
    """Folders renamed or moved out: the files that were below them are gone from there,
    but inotify names only the folder."""
    ended: set[str] = field(default_factory=set)
    """Watched folders that were removed or moved away: their watches are gone or stale."""
    overflow: bool = False
    """The kernel's event queue overflowed: events were lost, anywhere."""


class InotifyTree:
    """One inotify instance, the folders it watches, and the map from its events to paths."""

    def __init__(self) -> None:
        """Open an inotify instance; raises :class:`BackendError` if none is left."""
        try:
            self._inotify = INotify()
        except OSError as exc:
            if exc.errno == errno.EMFILE:
                raise BackendError(
                    "cannot start the built-in watcher: no inotify instance left "
                    f"({exc.strerror}); fs.inotify.max_user_instances (often 128) is "
                    "shared by every program of the user; raise it, or use Watchman"
                ) from exc
            raise BackendError(f"cannot start the built-in watcher: {exc}") from exc
        self._lock = threading.Lock()
        self._folder_of: dict[int, str] = {}
        self._watch_of: dict[str, int] = {}

    def fileno(self) -> int:
        """The inotify descriptor: readable once an event is queued."""
        return int(self._inotify.fileno())

    def close(self) -> None:
        """Close the descriptor, which ends every watch; idempotent."""
        self._inotify.close()
        with self._lock:
            self._folder_of.clear()
            self._watch_of.clear()

    def folders(self) -> int:
        """How many folders are watched now."""
        with self._lock:
            return len(self._watch_of)

    def watch_tree(self, top: str, *, found: set[str] | None = None) -> None:
        """Watch ``top`` and every folder below it (symlinks are not followed).

        Folders that vanish meanwhile are skipped, unreadable ones too (logged). When
        ``found`` is given, every file and folder below ``top`` is added to it. Raises
        :class:`BackendError` when the watch limit is reached or ``top`` itself cannot
        be watched.
        """
        self._add_watch(top, top_level=True)
        for parent, dirs, files in os.walk(top, onerror=_log_unreadable):
            kept: list[str] = []
            for name in dirs:
                folder = os.path.join(parent, name)
                if self._add_watch(folder, top_level=False):
                    kept.append(name)
            dirs[:] = kept
            if found is not None:
                found.update(os.path.join(parent, name) for name in (*dirs, *files))

    def forget_tree(self, top: str, *, keep: Iterable[str] = ()) -> None:
        """Remove the watches of ``top`` and every folder below it, but those within ``keep``."""
        with self._lock:
            self._forget_locked(top, keep=tuple(keep))

    def read(self) -> Events:
        """Every event queued now, as paths (returns at once if none is queued)."""
        got = Events()
        raw: Iterable[tuple[int, int, int, str]] = self._inotify.read(timeout=0)
        with self._lock:
            for wd, mask, _cookie, name in raw:
                if mask & flags.Q_OVERFLOW:
                    got.overflow = True
                    continue
                folder = self._folder_of.get(wd)
                if folder is None:  # a watch forgotten already; its last events are stale
                    continue
                if mask & flags.IGNORED:
                    del self._folder_of[wd]
                    self._watch_of.pop(folder, None)
                    got.ended.add(folder)
                    continue
                path = os.path.join(folder, name) if name else folder
                got.paths.add(path)
                if mask & _SELF_ENDED:
                    got.ended.add(folder)
                if mask & flags.ISDIR:
                    if mask & (flags.CREATE | flags.MOVED_TO):
                        got.new_folders.append(path)
                    elif mask & flags.MOVED_FROM:
                        got.moved_away.add(path)
                        # The watches below follow the folder to its new name; their
                        # events would be reported under the old one.
                        self._forget_locked(path)
        return got

    def _forget_locked(self, top: str, *, keep: tuple[str, ...] = ()) -> None:
        gone = [p for p in self._watch_of if is_within(p, top) and not is_covered(p, keep)]
        for path in gone:
            wd = self._watch_of.pop(path)
            del self._folder_of[wd]
            try:
                self._inotify.rm_watch(wd)
            except OSError:
                pass

    def _add_watch(self, folder: str, *, top_level: bool) -> bool:
        """Watch ``folder``; ``False`` if it vanished or cannot be read (logged)."""
        with self._lock:
            try:
                wd = int(self._inotify.add_watch(folder, WATCH_MASK))
            except OSError as exc:
                if exc.errno == errno.ENOSPC:
                    raise BackendError(
                        f"cannot watch {folder}: the inotify watch limit is reached "
                        f"({len(self._watch_of)} folders watched); raise "
                        "fs.inotify.max_user_watches, or use Watchman"
                    ) from exc
                if top_level:
                    raise BackendError(f"cannot watch {folder}: {exc.strerror}") from exc
                if exc.errno in (errno.EACCES, errno.EPERM):
                    log.warning(
                        "cannot watch %s (permission denied); changes there are missed", folder
                    )
                # ENOENT, ENOTDIR: it was removed or replaced meanwhile.
                return False
            earlier = self._folder_of.get(wd)
            if earlier is not None and earlier != folder:
                # Same folder under a new name (moved without our seeing it): the new name holds.
                self._watch_of.pop(earlier, None)
            self._folder_of[wd] = folder
            self._watch_of[folder] = wd
            return True


def _log_unreadable(exc: OSError) -> None:
    if exc.errno in (errno.EACCES, errno.EPERM):
        log.warning("cannot list %s (permission denied); changes there are missed", exc.filename)
