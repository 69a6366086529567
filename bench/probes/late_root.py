"""Adding roots to a running built-in watcher: how long it takes, and how long others wait.

``python -m bench.probes.late_root inotify|watchfiles``: watch a 1,000-folder tree, then
the standard library and site-packages, then a fourth (empty) root, while another
thread sleeps 1 ms at a time and records its longest pause (the GIL held meanwhile).
"""

from __future__ import annotations

import argparse
import sysconfig
import tempfile
import threading
import time
from pathlib import Path

from reloadd.daemon.backends.base import ChangeBatch
from reloadd.daemon.backends.builtin_base import BuiltinBackendBase
from reloadd.daemon.backends.inotify_backend import InotifyBackend
from reloadd.daemon.backends.watchfiles_backend import WatchfilesBackend

BACKENDS: dict[str, type[InotifyBackend] | type[WatchfilesBackend]] = {
    "inotify": InotifyBackend,
    "watchfiles": WatchfilesBackend,
}


class PauseMeter:
    """A thread sleeping 1 ms at a time; the longest gap between its wake-ups, in ms."""

    def __init__(self) -> None:
        self._stop = threading.Event()
        self._gaps: list[float] = []
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> PauseMeter:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join()

    def longest_since(self, index: int) -> float:
        """The longest gap among those recorded since the ``index``-th, in ms."""
        return 1000 * max(self._gaps[index:], default=0.0)

    def mark(self) -> int:
        """An index for :meth:`longest_since`."""
        return len(self._gaps)

    def _run(self) -> None:
        last = time.monotonic()
        while not self._stop.is_set():
            time.sleep(0.001)
            now = time.monotonic()
            self._gaps.append(now - last)
            last = now


def _timed(backend: BuiltinBackendBase, roots: list[Path]) -> float:
    started = time.monotonic()
    backend.watch_roots(roots, timeout=120)
    return 1000 * (time.monotonic() - started)


def _ignore(batch: ChangeBatch) -> None:
    del batch


def main() -> None:
    """Print the set-up times and the longest pauses for one backend."""
    parser = argparse.ArgumentParser(prog="python -m bench.probes.late_root")
    parser.add_argument("backend", choices=sorted(BACKENDS))
    args = parser.parse_args()
    backend = BACKENDS[args.backend](_ignore)
    with tempfile.TemporaryDirectory() as temp:
        project, extra = Path(temp, "project"), Path(temp, "extra")
        for i in range(1000):
            (project / f"d{i // 20}" / f"e{i}").mkdir(parents=True)
        extra.mkdir()
        libraries = [Path(sysconfig.get_paths()[name]) for name in ("stdlib", "purelib")]
        try:
            first = _timed(backend, [project])
            with PauseMeter() as pauses:
                time.sleep(0.2)
                at_libraries = pauses.mark()
                both = _timed(backend, libraries)
                at_fourth = pauses.mark()
                fourth = _timed(backend, [extra])
                time.sleep(0.2)
        finally:
            backend.close()
    print(
        f"{args.backend}: project (1,000 folders) {first:.0f} ms; + stdlib + site-packages "
        f"{both:.0f} ms (others paused up to {pauses.longest_since(at_libraries):.0f} ms"
        f" meanwhile); a fourth, empty root {fourth:.1f} ms (others paused up to "
        f"{pauses.longest_since(at_fourth):.0f} ms)"
    )


if __name__ == "__main__":
    main()
