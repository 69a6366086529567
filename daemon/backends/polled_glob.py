"""One registered glob on a polled root: its folders and matching files, checked by ``stat``.

A glob such as ``templates/**/*.html`` is watched through the folders where a match may
lie (the glob's own folder, and below it only those its pattern can descend into) and
the files that match. Each check stats every one of them: a file's own state says it
was edited; a folder's changes when an entry is added, removed or renamed in it, and
only then is that folder listed again. So a check costs one ``stat`` per folder and per
match, never a walk of the tree; a new folder is walked once, when it appears.

At most :data:`~reloadd.protocol.limits.MAX_POLLED_GLOB_ENTRIES` folders and matches are
kept per glob; beyond, new ones are not seen, and that is logged once.
"""

from __future__ import annotations

import logging
import os

from reloadd.protocol.file_state import FileState, stat_state, touched_after
from reloadd.protocol.globs import compile_glob
from reloadd.protocol.limits import MAX_POLLED_GLOB_ENTRIES

log = logging.getLogger("reloadd.daemon.poller")

_NfaStates = frozenset[int]


class PolledGlob:
    """The folders and matches of one glob, and their states at the last check."""

    def __init__(self, directory: str, pattern: str, *, since: float) -> None:
        """Walk ``directory`` once; matches written after ``since`` (Unix time, when the glob
        was registered) are reported by the first :meth:`check`."""
        self.directory = directory
        self.pattern = pattern
        self._glob = compile_glob(pattern)
        self._folders: dict[str, tuple[_NfaStates, FileState, frozenset[str], bool]] = {}
        """Folder → the matcher's state there, its own state, its entries' names, and whether
        to list it again at the next check (see :meth:`_list`)."""
        self._files: dict[str, FileState] = {}
        """Matching file → its state."""
        self._full_logged = False
        self._found: set[str] = set()
        """Paths to report at the next :meth:`check`."""
        self._list(directory, self._glob.start(), report=False, again=True)
        self._found = {path for path, state in self._files.items() if touched_after(state, since)}

    def __len__(self) -> int:
        """How many folders and files this glob keeps (each costs one ``stat`` per check)."""
        return len(self._folders) + len(self._files)

    def check(self) -> set[str]:
        """Stat every folder and match; the paths created, edited or removed since the last."""
        for folder, (states, before, _names, again) in list(self._folders.items()):
            if folder not in self._folders:
                continue  # dropped with a parent listed just now
            changed = stat_state(folder) != before
            if changed or again:
                self._list(folder, states, report=True, again=changed)
        for path, before in list(self._files.items()):
            now = stat_state(path)
            if now != before and path in self._files:
                self._files[path] = now
                self._found.add(path)
        found, self._found = self._found, set()
        return found

    def _list(self, folder: str, states: _NfaStates, *, report: bool, again: bool = False) -> None:
        """(Re-)list ``folder``: record new entries (walking new folders), forget gone ones.

        ``again``: list it at the next check too, whatever its state then. A folder's
        timestamps are coarse (a few ms here, a second on some servers): an entry added
        in the same tick, after this listing, would leave its state as recorded. New
        folders found during a check are listed again at the next one for the same reason.
        """
        pending = [(folder, states, again)]
        while pending:  # a loop, not recursion: a tree may be deeper than Python's stack
            folder, states, again = pending.pop()
            for path, here in self._list_one(folder, states, report=report, again=again):
                if path not in self._folders and self._room():
                    pending.append((path, here, report))

    def _list_one(
        self, folder: str, states: _NfaStates, *, report: bool, again: bool
    ) -> list[tuple[str, _NfaStates]]:
        """List one folder; the new folders in it a match may lie in."""
        before = stat_state(folder)
        kept = self._folders.get(folder)
        old_names = kept[2] if kept is not None else frozenset()
        names: set[str] = set()
        new_folders: list[tuple[str, _NfaStates]] = []
        try:
            with os.scandir(folder) as entries:
                for entry in entries:
                    here = self._glob.step(states, entry.name)
                    if not here:
                        continue
                    names.add(entry.name)
                    if entry.name in old_names:
                        continue
                    try:
                        is_dir = entry.is_dir(follow_symlinks=False)
                    except OSError:
                        continue
                    if is_dir and self._glob.may_go_deeper(here):
                        new_folders.append((entry.path, here))
                    elif not is_dir and self._glob.accepts(here) and self._room():
                        self._files[entry.path] = stat_state(entry.path)
                        if report:
                            self._found.add(entry.path)
        except OSError:
            pass  # gone or unreadable: kept with no entries, listed again when it changes
        self._folders[folder] = (states, before, frozenset(names), again)
        for name in old_names - names:
            self._forget(os.path.join(folder, name))
        return new_folders

    def _forget(self, path: str) -> None:
        """An entry left its folder: drop it, and everything kept below it (reported)."""
        if path in self._files:
            del self._files[path]
            self._found.add(path)
        prefix = path + "/"
        if path in self._folders:
            del self._folders[path]
            for folder in [f for f in self._folders if f.startswith(prefix)]:
                del self._folders[folder]
            for file in [f for f in self._files if f.startswith(prefix)]:
                del self._files[file]
                self._found.add(file)

    def _room(self) -> bool:
        if len(self) < MAX_POLLED_GLOB_ENTRIES:
            return True
        if not self._full_logged:
            self._full_logged = True
            log.warning(
                "polling glob %r in %s: %d folders and files kept, the limit "
                "(MAX_POLLED_GLOB_ENTRIES); further matches are not seen",
                self.pattern,
                self.directory,
                MAX_POLLED_GLOB_ENTRIES,
            )
        return False
