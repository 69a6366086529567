"""werkzeug and Flask: a reloader named ``"reloadd"`` that watches through the daemon.

Importing this module registers it with werkzeug::

    import reloadd.client.werkzeug  # noqa: F401

    app.run(debug=True, reloader_type="reloadd")                  # Flask
    run_simple("127.0.0.1", 5000, app, use_reloader=True, reloader_type="reloadd")

werkzeug runs the server in a child process and restarts it when the child
exits with code 3. In that child this reloader registers with the project's
daemon the imported modules' files, the files of modules whose import failed
(a ``SyntaxError`` in a module a request imports: the import system found the
file before it failed), ``extra_files`` (a folder there stands for every file
below it) and, like werkzeug's own stat reloader, the ``.py`` files of the
``sys.path`` folders that lie inside the project (its virtualenv aside) — minus
those matching ``exclude_patterns`` (:mod:`fnmatch` patterns on absolute paths,
as werkzeug has them). It registers the modules imported later at each
``reloader_interval``, and exits with code 3 as soon as the daemon reports a
change. As with werkzeug's stat reloader, creating a project ``.py`` file that
nothing imports restarts nothing; editing or deleting one does. ``flask run``
has no option to choose a reloader: run it as ``reloadd run -- flask run
--no-reload`` instead.

The server's state goes to the daemon (``reloadd status``, ``reloadd events``):
``starting`` once the loop is connected, ``ready`` when the server thread is started
(werkzeug's listening socket is made by the first process and inherited by each
server process, so it accepts all along: a request made once the server thread runs
is answered by this process's code), ``stopped`` on Ctrl-C or SIGTERM. A restart asked
for with ``reloadd reload`` exits with code 3, as a change does. A server process whose
app fails to import is reported ``crashed`` by werkzeug's first process, which starts a
new one once a file changes (:mod:`reloadd.client.werkzeug_crash`).
"""

from __future__ import annotations

import fnmatch
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType

from werkzeug._internal import _log
from werkzeug._reloader import ReloaderLoop, _get_args_for_reloading, reloader_loops

from reloadd.client.connection import Client, default_name
from reloadd.client.modules import module_files
from reloadd.client.polling import CLOCK_MARGIN, written_at
from reloadd.client.process import process_start_time
from reloadd.client.run.child_hook import ImportReporter
from reloadd.client.werkzeug_crash import CrashReports, wait_for_fix
from reloadd.protocol import ServerState

NAME = "reloadd"
"""The ``reloader_type`` this module registers."""

RESTART_CODE = 3
"""The exit code that makes werkzeug's first process start a new server process."""


IGNORED_FOLDERS = frozenset({"__pycache__", ".git", ".hg", ".tox", ".nox", ".pytest_cache"})
"""Folders whose files never restart the server (werkzeug's stat reloader skips them too)."""


class FoundFiles:
    """Every file the import system found, collected from any thread (a failed import's too).

    The sink of ``reloadd run``'s import finder
    (:class:`reloadd.client.run.child_hook.ImportReporter`), which asks the other
    finders first and passes on the file each import is about to run.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._new: list[str] = []

    def imported(self, paths: list[str], *, wait: bool = False) -> None:
        """Keep ``paths`` for the next :meth:`take`."""
        with self._lock:
            self._new.extend(paths)

    def take(self) -> list[str]:
        """The files found since the previous call."""
        with self._lock:
            found, self._new = self._new, []
        return found


def virtualenv_prefixes() -> tuple[str, ...]:
    """The interpreter's prefixes, each ending in ``/``: files there are the environment's."""
    prefixes = {sys.prefix, sys.exec_prefix, sys.base_prefix, sys.base_exec_prefix}
    return tuple(sorted(os.path.join(os.path.realpath(p), "") for p in prefixes))


def project_python_globs(root: Path) -> list[tuple[str, str]]:
    """``(folder, "**/*.py")`` for each ``sys.path`` folder inside ``root``, but virtualenvs."""
    ignored = virtualenv_prefixes()
    inside = os.path.join(os.path.realpath(root), "")
    globs: set[tuple[str, str]] = set()
    for entry in sys.path:
        folder = os.path.realpath(entry or os.curdir)
        mark = os.path.join(folder, "")
        if mark.startswith(inside) and not mark.startswith(ignored) and os.path.isdir(folder):
            globs.add((folder, "**/*.py"))
    return sorted(globs)


class ReloaddReloaderLoop(ReloaderLoop):
    """A werkzeug reloader loop whose watching is done by the reloadd daemon."""

    name = NAME

    def __init__(
        self,
        extra_files: Iterable[str] | None = None,
        exclude_patterns: Iterable[str] | None = None,
        interval: int | float = 1,
    ) -> None:
        super().__init__(extra_files, exclude_patterns, interval)
        self.client: Client | None = None
        self.watched: set[str] = set()
        self.started_at = process_start_time()
        self._scanned_at = 0.0
        self._found = FoundFiles()
        self._finder = ImportReporter(self._found)  # type: ignore[arg-type]
        self._ignored = virtualenv_prefixes()
        self._known: set[str] = set()
        """The project's ``.py`` files on ``sys.path`` when registered: a new one is no change."""

    def __enter__(self) -> ReloaddReloaderLoop:
        """Connect to (or start) the daemon and register this process's files."""
        sys.meta_path.insert(0, self._finder)
        self.client = Client(name=default_name())
        self.client.report_state(ServerState.STARTING)
        files: list[str] = []
        globs: list[tuple[str, str]] = []
        for extra in sorted(self.extra_files):
            if os.path.isdir(extra):
                globs.append((extra, "**"))
            else:
                files.append(extra)
        self._scanned_at = time.time()
        files = self._keep([*module_files(), *files])
        self.watched.update(files)
        self.client.watch(files=files, globs=globs, since=self.started_at)
        # The project's Python files, from now on: one created before now is no change.
        python_globs = project_python_globs(self.client.root)
        self._known = self._python_files(folder for folder, _ in python_globs)
        self.client.watch(globs=python_globs, since=self._scanned_at)
        return self

    def restart_with_reloader(self) -> int:
        """In werkzeug's first process: start server processes until one exits for good.

        Code 3 starts a new one at once; a failure (an app that does not import) is
        reported ``crashed`` and a new one starts once a file changes (see
        :mod:`reloadd.client.werkzeug_crash`); 0, or a signal, ends the dev server.
        """
        reports = CrashReports()
        try:
            while True:
                _log("info", f" * Restarting with {self.name}")
                env = reports.environment(os.environ.copy())
                env["WERKZEUG_RUN_MAIN"] = "true"
                started_at = time.time()
                exit_code = subprocess.call(_get_args_for_reloading(), env=env, close_fds=False)
                if exit_code == RESTART_CODE:
                    continue
                if exit_code <= 0:
                    return exit_code
                if not wait_for_fix(
                    reports.crash(exit_code),
                    started_at,
                    globs=lambda client: project_python_globs(client.root),
                    keep=self._keep,
                ):
                    return exit_code
        finally:
            reports.close()

    def _python_files(self, folders: Iterable[str]) -> set[str]:
        """The ``.py`` files below ``folders``, but in virtualenvs and ignored folders."""
        found: set[str] = set()
        for folder in folders:
            for parent, subfolders, names in os.walk(folder):
                subfolders[:] = [
                    name
                    for name in subfolders
                    if name not in IGNORED_FOLDERS
                    and not os.path.join(parent, name, "").startswith(self._ignored)
                ]
                found.update(os.path.join(parent, name) for name in names if name.endswith(".py"))
        return found

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Say goodbye to the daemon (``stopped`` first, on Ctrl-C or SIGTERM)."""
        if self._finder in sys.meta_path:
            sys.meta_path.remove(self._finder)
        if self.client is not None:
            if isinstance(exc, KeyboardInterrupt) or (
                isinstance(exc, SystemExit) and exc.code != RESTART_CODE
            ):
                self.client.report_state(ServerState.STOPPED)
            self.client.close()
            self.client = None

    def run_step(self) -> None:
        """Register the files of modules imported (or that failed to import) since the previous step."""
        if self.client is None:
            return
        scanned_at = time.time()
        found = [os.path.abspath(name) for name in self._found.take()]
        new = [name for name in self._keep(module_files(found)) if name not in self.watched]
        if new:
            self.watched.update(new)
            self.client.watch(files=new, since=self._scanned_at - CLOCK_MARGIN)
        self._scanned_at = scanned_at

    def run(self) -> None:
        """Report ``ready`` (the server thread runs); wait for the daemon to report a change,
        or a restart to be asked for, then exit with code 3 (werkzeug restarts us)."""
        assert self.client is not None, "use the loop as a context manager"
        self.client.report_state(ServerState.READY)
        while True:
            notified = self._keep(str(path) for path in self.client.wait(timeout=self.interval))
            changed = [p for p in notified if p in self.watched or self._known_python_file(p)]
            # A file last written before this process started was read by it as it is now
            # (the change that made werkzeug start it, reported again).
            changed = [p for p in changed if written_at(p) > self.started_at]
            if changed:
                self.trigger_reload(changed[0])
            if self.client.restart_requested:
                _log("info", " * A restart was asked for (reloadd reload), reloading")
                sys.exit(RESTART_CODE)
            self.run_step()

    def _keep(self, paths: Iterable[str]) -> list[str]:
        """The paths no exclude pattern matches."""
        patterns = self.exclude_patterns
        return [p for p in paths if not any(fnmatch.fnmatch(p, pat) for pat in patterns)]

    def _known_python_file(self, path: str) -> bool:
        """Whether a project ``.py`` file (not a module) existed before; a new one is remembered.

        As with werkzeug's stat reloader: editing or deleting one restarts the server,
        creating one does not (nothing imports it yet); virtualenvs and ignored
        folders never count.
        """
        if path in self._known:
            return True
        outside = not path.startswith(self._ignored) and IGNORED_FOLDERS.isdisjoint(path.split("/"))
        if outside and os.path.exists(path):
            self._known.add(path)
        return False


reloader_loops[NAME] = ReloaddReloaderLoop
