"""Synthetic project trees: N small module files in nested folders.

Twenty modules per leaf folder, leaf folders three levels deep with a fan-out of ten
(``app3/pkg1/mod7/m1234.py``), so 20,000 files lie in 1,000 leaf folders and 1,111
folders in all, about what a large Django project with its apps looks like. Each root
holds a ``pyproject.toml`` (a reloadd project root) and a ``.watchmanconfig`` (its own
Watchman watch root).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

FILES_PER_FOLDER = 20
FAN_OUT = 10

_MODULE = '"""Module {i} of a synthetic project."""\n\nVALUE = {i}\n\n\ndef f{i}() -> int:\n    return VALUE\n'


@dataclass(frozen=True)
class Tree:
    """A synthetic project: its root and its module files (absolute, as a process would list them)."""

    root: Path
    files: tuple[str, ...]

    @property
    def size(self) -> int:
        """The number of module files."""
        return len(self.files)

    def files_list(self) -> Path:
        """A text file next to the tree listing every module file, one a line (for workers)."""
        listing = self.root.parent / f"{self.root.name}-{len(self.files)}.files"
        if not listing.exists():
            listing.write_text("\n".join(self.files) + "\n")
        return listing

    def with_files(self, extra: tuple[str, ...]) -> Tree:
        """The same tree, its servers registering ``extra`` files too (modules outside it)."""
        return Tree(self.root, self.files + extra)


def module_path(root: Path, index: int) -> Path:
    """Where module number ``index`` lives."""
    leaf = index // FILES_PER_FOLDER
    top, middle, bottom = leaf // (FAN_OUT * FAN_OUT), (leaf // FAN_OUT) % FAN_OUT, leaf % FAN_OUT
    return root / f"app{top}" / f"pkg{middle}" / f"mod{bottom}" / f"m{index}.py"


def make_tree(parent: Path, size: int) -> Tree:
    """Create a tree of ``size`` module files under ``parent`` (named after its size)."""
    root = (parent / f"tree{size}").resolve()
    root.mkdir(parents=True)
    (root / "pyproject.toml").write_text(f"[project]\nname = 'synthetic{size}'\n")
    (root / ".watchmanconfig").write_text("{}\n")
    files: list[str] = []
    made: set[Path] = set()
    for index in range(size):
        path = module_path(root, index)
        if path.parent not in made:
            path.parent.mkdir(parents=True, exist_ok=True)
            made.add(path.parent)
        path.write_text(_MODULE.format(i=index))
        files.append(str(path))
    return Tree(root, tuple(files))


def rewrite(path: str, stamp: int) -> None:
    """Save a module in place, as an editor's plain save does (new content, same name)."""
    with open(path, "w") as handle:
        handle.write(f"# saved {stamp}\nVALUE = {stamp}\n")


def folder_count(tree: Tree) -> int:
    """How many folders hold the tree's modules (what per-folder watchers pay for)."""
    return len({os.path.dirname(f) for f in tree.files})
