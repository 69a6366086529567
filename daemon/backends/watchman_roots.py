"""Which Watchman watch covers a root, and giving back the watches this backend added.

``watch-project`` climbs from a folder to the nearest one holding a ``.git``,
``.hg`` or ``.watchmanconfig`` (Watchman's ``root_files``) and watches all of it.
That is right for the project (one watch shared with other tools, and
``defer_vcs`` sees the repository's lock), and wrong for the standard library and
``site-packages``: with Python from pyenv, ``watch-project`` on
``~/.pyenv/versions/3.12.1/lib/python3.12`` watches all of ``~/.pyenv`` (12,002
folders, a 4 s crawl, as reported), because ``~/.pyenv`` is a git checkout.

So :class:`RootResolver` watches a root inside the project (or every root, when no
project is given) with ``watch-project``, and a root outside it with ``watch`` on the
folder itself, unless a watch Watchman already has covers it (``watch-list``), which is
then reused. Where Watchman refuses ``watch`` (``enforce_root_files`` in its
configuration), it falls back to ``watch-project``.

Giving back: Watchman keeps a watch until ``watch-del`` or its own restart, and counts
no users. A watch this backend *created* outside the project (its root was not in
``watch-list`` before) is deleted by :meth:`RootResolver.give_back` when the backend
closes, unless a subscription or trigger of any client remains on it then. The
project's watch is kept (the next daemon resumes from its clocks), and so is any
watch that existed before, or that a killed daemon left (the next one finds it in
``watch-list``, so it is not its own). A tool that only *queries* a watch this
backend created and gave back sees a fresh instance on its next query. Because a
given-back root has no watch after the daemon exits, :meth:`RootResolver.own` roots
have no clock worth saving (the next daemon checks their files by mtime instead).
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterable
from pathlib import Path

from reloadd.daemon.backends.nesting import is_covered, is_within
from reloadd.daemon.backends.watchman_wire import Commands
from reloadd.protocol.errors import BackendError, WatchmanUnavailable

log = logging.getLogger("reloadd.daemon.watchman")


class RootResolver:
    """Resolves roots to (watch root, relative folder); remembers the watches it created.

    Used from the caller's thread and the reader thread (each with its own
    :class:`~reloadd.daemon.backends.watchman_wire.Commands`); its set is locked.
    """

    def __init__(self, project_root: Path | None) -> None:
        self._project = project_root
        self._lock = threading.Lock()
        self._created: set[str] = set()

    def resolve(self, commands: Commands, root: Path, deadline: float) -> tuple[str, str]:
        """Have Watchman watch ``root``; its watch root and ``root`` relative to it ("" if same).

        Raises :class:`BackendError` if Watchman refuses, :class:`WatchmanUnavailable`.
        """
        if self._project is None or is_covered(root, [self._project]):
            return _watch_project(commands, root, deadline)
        listed = commands.query(deadline, "watch-list").get("roots", ())
        enclosing = [str(w) for w in listed if is_within(root, str(w))]
        if enclosing:
            nearest = max(enclosing, key=len)
            return nearest, _relative(root, nearest)
        try:
            answer = commands.query(deadline, "watch", str(root))
        except WatchmanUnavailable:
            raise
        except BackendError as exc:
            log.info("Watchman refused to watch %s by itself (%s); using watch-project", root, exc)
            return _watch_project(commands, root, deadline)
        watch_root = str(answer["watch"])
        with self._lock:
            self._created.add(watch_root)
        log.debug("watching %s by itself (not its enclosing project)", watch_root)
        return watch_root, _relative(root, watch_root)

    def own(self, roots: Iterable[Path]) -> set[Path]:
        """Those of ``roots`` that lie in a watch this backend created (and gives back)."""
        with self._lock:
            created = set(self._created)
        return {root for root in roots if is_covered(root, created)}

    def give_back(self, commands: Commands, deadline: float) -> None:
        """``watch-del`` each watch this backend created that no subscription or trigger uses.

        Call it once this backend's own subscriptions are gone. Never raises: what cannot
        be given back is logged and left to Watchman.
        """
        with self._lock:
            created, self._created = sorted(self._created), set()
        for watch_root in created:
            try:
                users = commands.query(deadline, "debug-get-subscriptions", watch_root).get(
                    "subscribers", ()
                )
                triggers = commands.query(deadline, "trigger-list", watch_root).get("triggers", ())
                if users or triggers:
                    log.info(
                        "keeping the Watchman watch of %s: %d subscriptions and %d triggers "
                        "of other clients use it",
                        watch_root,
                        len(users),
                        len(triggers),
                    )
                    continue
                commands.query(deadline, "watch-del", watch_root)
            except BackendError as exc:  # WatchmanUnavailable included
                log.info("could not give back the Watchman watch of %s: %s", watch_root, exc)
                continue
            log.info("gave back the Watchman watch of %s", watch_root)


def _watch_project(commands: Commands, root: Path, deadline: float) -> tuple[str, str]:
    answer = commands.query(deadline, "watch-project", str(root))
    return str(answer["watch"]), str(answer.get("relative_path") or "")


def _relative(root: Path, watch_root: str) -> str:
    relative = os.path.relpath(root, watch_root)
    return "" if relative == "." else relative
