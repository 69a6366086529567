"""Choosing the few folders a backend watches so that every registered path is covered.

Files inside the project are covered by the project root. Files of installed
packages are covered by their ``site-packages``/``dist-packages`` folder or the
standard library's ``lib/pythonX.Y`` folder, so that a process importing
hundreds of packages costs a handful of watches, not one per directory.

A watch is never widened beyond those: a file elsewhere is covered by its own folder
only, and only if that folder exists, is not the file system's root, and holds at most
:data:`~reloadd.protocol.limits.MAX_OUTSIDE_ROOT_FOLDERS` folders. A missing file's
nearest existing parent is watched only when it lies inside the project or a library
folder; ``/nonexistent-dir/x.py`` is refused rather than making the daemon watch ``/``.
Sizing outside folders reads at most twice ``MAX_OUTSIDE_ROOT_FOLDERS`` folders per request
(:class:`WalkBudget`), and each result is remembered, so no request can make the daemon
walk the file system for long.
A refused path stays registered but is covered by no watched folder (see
:func:`uncovered`): the ``watching`` reply counts it, and its changes are not reported.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from pathlib import Path

from reloadd.daemon.backends.nesting import folder_prefixes, is_covered
from reloadd.protocol.limits import MAX_OUTSIDE_ROOT_FOLDERS

__all__ = [
    "WalkBudget",
    "covering_root",
    "is_covered",
    "nearest_existing",
    "roots_to_add",
    "uncovered",
]

_LIBRARY_DIR = re.compile(r"^(site-packages|dist-packages|python\d+(\.\d+)?)$")


def covering_root(
    path: Path, project_root: Path, *, is_dir: bool = False, budget: WalkBudget | None = None
) -> Path | None:
    """The folder to watch so that ``path`` (a file, or a folder if ``is_dir``) is covered.

    ``None`` when no folder may be watched for it (see the module docstring), or when
    ``budget`` is spent before an outside folder's size is known.
    """
    if path == project_root or project_root in path.parents:
        return project_root
    folder = path if is_dir else path.parent
    for ancestor in (folder, *folder.parents):
        if _LIBRARY_DIR.match(ancestor.name):
            return nearest_existing(folder, within=ancestor)
    if folder == Path(folder.anchor) or not folder.is_dir():
        return None
    if _small_tree(str(folder), WalkBudget() if budget is None else budget):
        return folder
    return None


def nearest_existing(folder: Path, *, within: Path) -> Path | None:
    """``folder`` itself if it exists, else its nearest existing ancestor up to ``within``."""
    for candidate in (folder, *folder.parents):
        if candidate.is_dir():
            return candidate
        if candidate == within:
            break
    return None


def roots_to_add(
    files: Iterable[str], glob_dirs: Iterable[str], project_root: Path, watched: Iterable[Path]
) -> list[Path]:
    """The smallest set of new roots covering ``files`` and ``glob_dirs`` not already watched.

    Paths no folder may be watched for are left out (:func:`uncovered` finds them later).
    """
    watched = list(watched)
    # String prefixes first: a restarted dev server re-sends thousands of covered paths,
    # and building a Path for each would cost more than everything else together.
    prefixes = folder_prefixes(watched)
    watched_names = {str(root) for root in watched}
    wanted: set[Path] = set()
    budget = WalkBudget()
    for name, is_dir in [*((f, False) for f in files), *((d, True) for d in glob_dirs)]:
        if name.startswith(prefixes) or name in watched_names:
            continue
        path = Path(name)
        if is_covered(path, wanted):
            continue
        root = covering_root(path, project_root, is_dir=is_dir, budget=budget)
        if root is not None:
            wanted.add(root)
    # Drop roots nested in other wanted roots.
    return sorted(root for root in wanted if not is_covered(root, wanted - {root}))


def uncovered(files: Iterable[str], glob_dirs: Iterable[str], watched: Iterable[Path]) -> list[str]:
    """The paths among ``files`` and ``glob_dirs`` that no root of ``watched`` covers."""
    watched = list(watched)
    prefixes = folder_prefixes(watched)
    names = {str(root) for root in watched}
    return sorted(
        name for name in (*files, *glob_dirs) if not name.startswith(prefixes) and name not in names
    )


class WalkBudget:
    """How many more folders one request may read while sizing outside folders.

    Bounds the work a single ``watch`` can cause (a hostile one naming thousands of big
    folders): once spent, further unknown outside folders are not watched.
    """

    def __init__(self, folders: int = 2 * MAX_OUTSIDE_ROOT_FOLDERS) -> None:
        self.left = folders


_MAX_SIZED = 4096
_sized: dict[str, bool] = {}
"""Folder → whether it was small enough, as found (kept for the daemon's life, bounded)."""


def _small_tree(folder: str, budget: WalkBudget) -> bool:
    """Whether ``folder`` holds at most ``MAX_OUTSIDE_ROOT_FOLDERS`` folders.

    It stops counting beyond, so sizing ``/`` costs no more than sizing a folder at the
    limit; and when ``budget`` runs out first, the answer is no (not remembered).
    """
    known = _sized.get(folder)
    if known is not None:
        return known
    count = 0
    small = True
    for _parent, dirs, _files in os.walk(folder):
        budget.left -= 1
        count += len(dirs)
        if count > MAX_OUTSIDE_ROOT_FOLDERS:
            small = False
            break
        if budget.left < 0:
            return False
    if len(_sized) >= _MAX_SIZED:
        _sized.clear()
    _sized[folder] = small
    return small
