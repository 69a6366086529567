"""Folders a server reads afresh at each request (templates, static files), watched without a restart.

A :class:`FolderWatcher` runs a thread with its own connection to the project's daemon
(a second registration of the server process, role ``tool``, named after it with
`` (browser)``: ``reloadd status`` lists it as a tool, and it never restarts anything) and publishes to the process's
:class:`~reloadd.client.browser.hub.Hub`:

* a ``.css`` file changed in a static folder → ``css`` with its path relative to that
  folder (the page swaps the stylesheet);
* any other file changed in a static or template folder → ``reload``.

Without a daemon the client polls the folders in-process (and says so once).
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from reloadd.client.browser import page_events
from reloadd.client.browser.hub import Hub
from reloadd.protocol import ReloaddError, Role

log = logging.getLogger("reloadd.client.browser")

WAIT_TIMEOUT = 1.0
"""Longest single wait for a change: how soon :meth:`FolderWatcher.stop` is seen."""


@dataclass(frozen=True)
class Folder:
    """A folder to watch: ``static`` (its ``.css`` files are swapped) or ``templates``."""

    path: str
    kind: str = "templates"


def static(paths: Iterable[str | os.PathLike[str]]) -> list[Folder]:
    """Static folders (``.css`` changes are swapped in place)."""
    return [Folder(os.path.abspath(os.fspath(p)), "static") for p in paths]


def templates(paths: Iterable[str | os.PathLike[str]]) -> list[Folder]:
    """Template folders (any change reloads the page)."""
    return [Folder(os.path.abspath(os.fspath(p)), "templates") for p in paths]


def folders_of(
    template_folders: Iterable[str | os.PathLike[str]],
    static_folders: Iterable[str | os.PathLike[str]],
) -> list[Folder]:
    """The folders a middleware's ``templates=`` and ``static=`` name."""
    return [*templates(template_folders), *static(static_folders)]


def events_for(folders: Iterable[Folder], changed: Iterable[str]) -> list[page_events.PageEvent]:
    """What the pages are told for ``changed`` paths: ``reload`` if any needs it, else ``css``."""
    styles: set[str] = set()
    others: set[str] = set()
    folder_list = list(folders)
    for path in changed:
        owner = _owner(folder_list, path)
        if owner is None:
            continue
        relative = PurePosixPath(*Path(path).relative_to(owner.path).parts)
        if owner.kind == "static" and relative.suffix == ".css":
            styles.add(str(relative))
        else:
            others.add(path)
    if others:
        return [page_events.reload(others)]
    return [page_events.css(styles)] if styles else []


def _owner(folders: list[Folder], path: str) -> Folder | None:
    """The innermost folder holding ``path``."""
    best: Folder | None = None
    for folder in folders:
        if path.startswith(os.path.join(folder.path, "")) and (
            best is None or len(folder.path) > len(best.path)
        ):
            best = folder
    return best


class FolderWatcher:
    """A thread telling ``hub`` about changes to ``folders``, between :meth:`start` and :meth:`stop`."""

    def __init__(self, hub: Hub, folders: Iterable[Folder]) -> None:
        self.hub = hub
        self.folders = sorted({f for f in folders if os.path.isdir(f.path)}, key=lambda f: f.path)
        self.watching = threading.Event()
        """Set once the daemon watches the folders (a change from then on is told)."""
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Connect and watch, in a thread of its own (idempotent; nothing to do without folders)."""
        if self._thread is not None or not self.folders:
            return
        self.hub.settled.clear()
        self._thread = threading.Thread(target=self._run, name="reloadd-browser", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop watching (the thread ends within :data:`WAIT_TIMEOUT`)."""
        self._stop.set()

    def _run(self) -> None:
        from reloadd.client.connect import default_name
        from reloadd.client.connection import Client

        try:
            client = Client(name=f"{default_name()[:230]} (browser)", role=Role.TOOL)
        except ReloaddError as exc:
            log.warning("reloadd: the pages will not refresh on static changes: %s", exc)
            self.hub.settled.set()
            return
        try:
            try:
                client.watch(globs=[(f.path, "**/*") for f in self.folders])
            finally:
                self.hub.settled.set()
            self.watching.set()
            while not self._stop.is_set():
                changed = client.wait(timeout=WAIT_TIMEOUT)
                files = [str(p) for p in changed if not p.is_dir()]
                for event in events_for(self.folders, files):
                    self.hub.publish(event)
        except ReloaddError as exc:
            log.warning("reloadd: the pages will not refresh on static changes: %s", exc)
        finally:
            client.close()
