"""The built-in watcher: inotify of our own on Linux, watchfiles' ``notify`` elsewhere.

Both are named ``builtin`` and behave alike (see their modules); on Linux ours is used
because its thread sleeps until something changes, where watchfiles' wakes every step.
"""

from __future__ import annotations

import sys

from reloadd.daemon.backends.base import Backend, ChangeSink


def builtin_backend(on_changes: ChangeSink) -> Backend:
    """The built-in watcher for this system, not started yet."""
    if sys.platform.startswith("linux"):
        from reloadd.daemon.backends.inotify_backend import InotifyBackend

        return InotifyBackend(on_changes)
    from reloadd.daemon.backends.watchfiles_backend import WatchfilesBackend

    return WatchfilesBackend(on_changes)
