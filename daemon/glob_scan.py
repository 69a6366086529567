"""Walking a glob's folder once, matching each path with the linear matcher, within a budget.

Used to answer ``since`` for globs under folders the daemon began watching only after
that time (there is no change log to consult). ``Path.glob`` is exponential in the
number of ``**`` components of a hostile pattern and walks without bound; this walk
visits each entry once, skips folders no match can lie in, and stops after a given
number of entries.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

from reloadd.protocol.globs import compile_glob


class ScanBudget:
    """How many folder entries a walk may still visit (shared by the globs of one request)."""

    def __init__(self, entries: int) -> None:
        self.left = entries
        self.exhausted = False

    def take(self) -> bool:
        """Spend one entry; False (and ``exhausted`` set) once none is left."""
        if self.left <= 0:
            self.exhausted = True
            return False
        self.left -= 1
        return True


def glob_files(directory: str, pattern: str, budget: ScanBudget) -> Iterator[str]:
    """The files below ``directory`` whose relative path matches ``pattern``, as relative paths.

    Symlinked folders are not followed (as ``**`` in ``Path.glob``); unreadable folders
    are skipped. Stops early when ``budget`` runs out.
    """
    glob = compile_glob(pattern)
    pending: list[tuple[str, str, frozenset[int]]] = [(directory, "", glob.start())]
    while pending:
        folder, prefix, states = pending.pop()
        try:
            with os.scandir(folder) as entries:
                for entry in entries:
                    if not budget.take():
                        return
                    here = glob.step(states, entry.name)
                    if not here:
                        continue
                    relative = prefix + entry.name
                    if glob.accepts(here):
                        # A folder too: a trailing "**" matches it, and it stands for its files.
                        yield relative
                    if glob.may_go_deeper(here):
                        try:
                            if entry.is_dir(follow_symlinks=False):
                                pending.append((entry.path, relative + "/", here))
                        except OSError:
                            continue
        except OSError:
            continue
