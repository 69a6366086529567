"""In the template: import the learned third-party modules one by one, leaving out any that misbehaves.

Standard library only, and no ``reloadd`` import: the template loads this file by its
path (as ``reloadd run``'s startup hook loads ``child_hook.py``).

A module is **third-party** when its file is under the interpreter's prefixes, its
standard library or a ``site-packages`` folder (a ``.venv`` inside the project counts),
or anywhere outside the project root; every other file under the root is the
project's, and never runs in a template. Each learned name is imported alone, and is
left out — and named in :attr:`Preload.skipped`, so the next template does not try it —
when:

* its import fails;
* its import tries to import a project module (a meta-path finder refuses it; a library
  that catches that ``ImportError`` would have seen the project's module in a fresh run,
  so the template is spoiled: :attr:`Preload.spoiled`);
* it starts a thread or a process, opens a file descriptor, installs a signal handler,
  changes the working folder, ``sys.path`` or the environment (state a fresh run would
  not have before its own code starts; the template is spoiled too);
* its parent package was left out, or is the project's.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import signal
import sys
import sysconfig
import time

MTIME_LAG = 0.02
"""Seconds a file's time stamp may lag behind ``time.time()`` (the kernel's coarse clock
ticks every 1 to 10 ms): a file stamped later than this before its import began may have
been written while it was read."""

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def third_party_dirs() -> list[str]:
    """The folders whose modules are never the project's: prefixes, standard library,
    ``site-packages`` (each as a real path ending in ``/``)."""
    import site

    folders = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix}
    for name in ("stdlib", "platstdlib", "purelib", "platlib"):
        path = sysconfig.get_paths().get(name)
        if path:
            folders.add(path)
    try:
        folders.update(site.getsitepackages())
        folders.add(site.getusersitepackages())
    except AttributeError:  # an old virtualenv's site module
        pass
    return sorted({os.path.join(os.path.realpath(folder), "") for folder in folders if folder})


def is_project_file(path: str, root: str, third_party: list[str]) -> bool:
    """Whether ``path`` is the project's: under ``root`` and under none of ``third_party``."""
    real = os.path.realpath(path)
    if not real.startswith(os.path.join(os.path.realpath(root), "")):
        return False
    return not any(real.startswith(folder) for folder in third_party)


class ProjectGuard:
    """A ``sys.meta_path`` finder, first while preloading: refuses to import a project module."""

    def __init__(self, root: str, third_party: list[str]) -> None:
        self.root = root
        self.third_party = third_party
        self.refused: str | None = None
        """The first project module an import asked for (since :meth:`reset`)."""

    def reset(self) -> None:
        """Forget the refusals."""
        self.refused = None

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> Any:
        """The spec the following finders give, unless it is a project module's."""
        meta_path = sys.meta_path
        following = meta_path[meta_path.index(self) + 1 :] if self in meta_path else []
        for finder in following:
            find = getattr(finder, "find_spec", None)
            if find is None:
                return None
            spec = find(fullname, path, target)
            if spec is not None:
                if self._project_spec(spec):
                    self.refused = self.refused or fullname
                    raise ModuleNotFoundError(
                        f"a reloadd template does not import project modules ({fullname})",
                        name=fullname,
                    )
                return spec
        return None

    def _project_spec(self, spec: Any) -> bool:
        places = []
        if spec.has_location and isinstance(spec.origin, str):
            places.append(spec.origin)
        places.extend(spec.submodule_search_locations or [])
        return any(is_project_file(place, self.root, self.third_party) for place in places)


def _state() -> tuple[Any, ...]:
    """What an import must not change: threads, descriptors, signal handlers, working folder,
    ``sys.path``, environment, child processes."""
    try:
        threads = len(os.listdir("/proc/self/task"))
        fds = frozenset(os.listdir("/proc/self/fd"))
    except OSError:
        import _thread

        threads, fds = _thread._count() + 1, frozenset()
    handlers = tuple(signal.getsignal(number) for number in sorted(signal.valid_signals()))
    try:
        with open(f"/proc/self/task/{os.getpid()}/children") as file:
            children = file.read().split()
    except OSError:
        children = []
    return threads, fds, handlers, os.getcwd(), tuple(sys.path), dict(os.environ), children


_CHANGES = (
    "started a thread",
    "left a file descriptor open",
    "installed a signal handler",
    "changed the working folder",
    "changed sys.path",
    "changed the environment",
    "started a process",
)


def thread_count() -> int:
    """Threads of this process (the kernel's count, so threads started by C code count too)."""
    try:
        return len(os.listdir("/proc/self/task"))
    except OSError:
        import _thread

        return int(_thread._count()) + 1


class Preload:
    """One template's preloading: :meth:`run`, then what was imported, left out, or spoiled."""

    def __init__(self, root: str, skip: dict[str, str]) -> None:
        self.root = root
        self.third_party = third_party_dirs()
        self.skip = dict(skip)
        self.skipped: dict[str, str] = {}
        """Modules left out this time for a reason worth remembering: name → reason."""
        self.spoiled: str | None = None
        """Why this template must not fork (it holds state a fresh run would not have)."""
        self.spoiled_by: str | None = None
        """The module whose import spoiled it, if one did."""
        self.imported = 0
        self.started = time.time()
        self.stats: dict[str, tuple[int, int]] = {}
        """Each imported module's file, with its ``(mtime_ns, size)`` right after its import:
        the template is stale when one of them differs."""

    def run(self, names: list[str]) -> None:
        """Import ``names`` in order, each alone, and stop at the first that spoils the template."""
        self._record(set(), self.started)  # what the interpreter imported at start-up
        guard = ProjectGuard(self.root, self.third_party)
        sys.meta_path.insert(0, guard)
        try:
            for name in names:
                if self.spoiled is not None:
                    break
                self._one(name, guard)
        finally:
            sys.meta_path.remove(guard)

    def _one(self, name: str, guard: ProjectGuard) -> None:
        if name in sys.modules or name in self.skip or name.startswith("__main__"):
            return
        parent = name.rpartition(".")[0]
        if parent and parent not in sys.modules:
            return  # left out, the project's, or never a package
        try:
            spec = importlib.util.find_spec(name)
        except Exception:  # noqa: BLE001 (a finder's own failure: leave it out)
            spec = None
        if spec is None or guard._project_spec(spec):
            return
        before = _state()
        guard.reset()
        began, known = time.time(), set(sys.modules)
        try:
            importlib.import_module(name)
        except BaseException as exc:  # noqa: BLE001 (SystemExit too: a module must not end us)
            if guard.refused is not None:
                self.skipped[name] = f"imports the project module {guard.refused}"
            else:
                self.skipped[name] = f"fails to import ({type(exc).__name__}: {exc})"[:300]
            return
        self.imported += 1
        self._record(known, began)
        if guard.refused is not None:
            self.skipped[name] = f"imports the project module {guard.refused}"
            self.spoiled = f"{name} tried to import the project module {guard.refused}"
            self.spoiled_by = name
            return
        after = _state()
        for index, change in enumerate(_CHANGES):
            if change == "left a file descriptor open" and not after[1] - before[1]:
                continue
            if before[index] != after[index]:
                self.skipped[name] = change
                self.spoiled = f"importing {name} {change}"
                self.spoiled_by = name
                return

    def _record(self, known: set[str], began: float) -> None:
        """Stat the files of the modules not in ``known``; spoil the template if one may
        have been written while it was read (stamped after ``began``, give or take the lag)."""
        since = int((began - MTIME_LAG) * 1e9)
        for name, module in list(sys.modules.items()):
            if name in known:
                continue
            spec = getattr(module, "__spec__", None)
            origin = getattr(spec, "origin", None)
            if not (isinstance(origin, str) and getattr(spec, "has_location", False)):
                continue
            try:
                stat = os.stat(origin)
            except OSError:
                continue
            self.stats[origin] = (stat.st_mtime_ns, stat.st_size)
            if stat.st_mtime_ns >= since and self.spoiled is None:
                self.spoiled = f"{origin} was written while the template imported it"
