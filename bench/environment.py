"""Everything a bench run owns: a temp folder, the trees, a private Watchman, daemons, workers.

All of it is stopped and removed by :meth:`BenchEnv.close`, whatever happened. The
bench's own process and every child get ``XDG_RUNTIME_DIR`` in the temp folder (so the
daemons' endpoints are private) and no ``WATCHMAN_SOCK`` or ``RELOADD_*`` variable of
the user's; only the workers that talk to Watchman get ``WATCHMAN_SOCK``, pointing at
the private one.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bench.daemon import Daemon
from bench.trees import Tree, make_tree
from bench.watchman import PrivateWatchman
from bench.workers import Worker

_LEAKY = (
    "WATCHMAN_SOCK",
    "XDG_RUNTIME_DIR",
    "XDG_STATE_HOME",
    "NOTIFY_SOCKET",
    # Every process runs from compiled bytecode, as after ``pip install``: without it an
    # editable checkout would compile reloadd's sources (and only reloadd's) at each start.
    "PYTHONDONTWRITEBYTECODE",
)


class BenchEnv:
    """The resources of one run; use as a context manager."""

    def __init__(self, *, keep: bool = False) -> None:
        self.keep = keep
        self.base = Path(tempfile.mkdtemp(prefix="reloadd-bench-", dir="/tmp"))
        self.logs = self.base / "logs"
        self.logs.mkdir()
        runtime = self.base / "run"
        runtime.mkdir(mode=0o700)
        for name in list(os.environ):
            if name in _LEAKY or name.startswith("RELOADD_"):
                del os.environ[name]
        os.environ["XDG_RUNTIME_DIR"] = str(runtime)
        os.environ["XDG_STATE_HOME"] = str(self.base / "state")
        os.environ["PYTHONPYCACHEPREFIX"] = str(self.base / "pycache")
        self.env = dict(os.environ)
        self._trees: dict[int, Tree] = {}
        self._watchman: PrivateWatchman | None = None
        self._watched: list[Path] = []
        self._workers: list[Worker] = []
        self._daemons: list[Daemon] = []

    def __enter__(self) -> BenchEnv:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def watchman(self) -> PrivateWatchman:
        """The private Watchman, started on first use."""
        if self._watchman is None:
            self._watchman = PrivateWatchman().start()
        return self._watchman

    def restart_watchman(self) -> None:
        """Replace the private Watchman by a new one that watches every tree again.

        Run after Django's WatchmanReloader: thousands of per-folder subscriptions from
        servers that went away are left for Watchman 4.9 to tear down, which slowed the
        contenders after it, and once left the tree's subscriptions unanswered.
        """
        if self._watchman is None:
            return
        self._watchman.close()
        self._watchman = None
        for root in self._watched:
            self.watchman.watch(root)

    def tree(self, size: int) -> Tree:
        """The synthetic tree of ``size`` files, created on first use and watched by Watchman."""
        if size not in self._trees:
            tree = make_tree(self.base / "trees", size)
            tree.files_list()
            self.watch(tree.root)
            self._trees[size] = tree
        return self._trees[size]

    def watch(self, root: Path) -> None:
        """Have the private Watchman watch ``root`` now and after any restart."""
        self.watchman.watch(root)
        self._watched.append(root)

    @contextmanager
    def daemon(self, tree: Tree, backend: str) -> Iterator[Daemon]:
        """A fresh reloadd daemon for ``tree`` on ``backend``, stopped afterwards."""
        daemon = Daemon(
            tree.root,
            backend,
            env=self.env,
            log_dir=self.logs,
            watchman_sock=self.watchman.sockpath,
        )
        self._daemons.append(daemon)
        try:
            yield daemon.start()
        finally:
            daemon.stop()
            self._daemons.remove(daemon)

    def worker(self, kind: str, tree: Tree, *, name: str = "bench server") -> Worker:
        """Start a worker (stopped by :meth:`stop_workers` or :meth:`close`)."""
        sock = self.watchman.sockpath if kind in ("django-watchman", "pywatchman") else ""
        worker = Worker(kind, tree, env=self.env, log_dir=self.logs, name=name, watchman_sock=sock)
        self._workers.append(worker)
        return worker

    def workers(self, kind: str, tree: Tree, count: int) -> list[Worker]:
        """Start ``count`` workers with distinct names, one after the other, each until ready.

        One at a time: a daemon busy registering one server's 20,000 new files does not
        answer another's ``hello`` within the client's handshake timeout (1 s).
        """
        started: list[Worker] = []
        for index in range(count):
            worker = self.worker(kind, tree, name=f"bench server {index}")
            started.append(worker)
            worker.wait_ready()
        return started

    def stop_workers(self, workers: list[Worker] | None = None) -> None:
        """Stop these workers (all if None), each by its PID."""
        for worker in list(self._workers if workers is None else workers):
            worker.stop()
            if worker in self._workers:
                self._workers.remove(worker)

    def close(self) -> None:
        """Stop every worker, daemon and the Watchman; remove the temp folder unless kept."""
        self.stop_workers()
        for daemon in list(self._daemons):
            daemon.stop()
        if self._watchman is not None:
            self._watchman.close()
        if not self.keep:
            shutil.rmtree(self.base, ignore_errors=True)
