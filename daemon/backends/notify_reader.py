"""One watchfiles ``RustNotify`` over a set of roots, and the thread that reads it.

:func:`open_notify` creates the ``RustNotify`` (its inotify watches exist, and it
collects events, from the moment it returns). A :class:`NotifyReader` loops on its
``watch()`` in its own thread and hands each returned set to the sink as one
:class:`~reloadd.daemon.backends.base.ChangeBatch`, after two additions:

* A folder reported as created is scanned and everything in it is reported too:
  inotify starts watching a new folder only once it has seen the folder appear, so
  files written into it at once (``mkdir -p a/b && cp x a/b/``, a ``git checkout``
  creating folders) would otherwise be missed.
* Changes under a root whose repository is locked by git or hg are held back
  (:class:`~reloadd.daemon.backends.vcs_hold.VcsHold`).

What the reader cannot handle alone — its ``RustNotify`` failed, or a root was removed
— it hands to its ``recover`` callback (the backend), which may replace it.
"""

from __future__ import annotations

import errno
import logging
import os
import threading
import time
from collections.abc import Callable, Collection

from watchfiles._rust_notify import RustNotify, WatchfilesRustInternalError

from reloadd.daemon.backends.base import ChangeBatch, ChangeSink
from reloadd.daemon.backends.builtin_base import RETRY_DELAY, check_folder
from reloadd.daemon.backends.vcs_hold import VcsHold
from reloadd.protocol.errors import BackendError

log = logging.getLogger("reloadd.daemon.builtin")

_ADDED = 1
_DELETED = 3

# A retired reader (a newer one covers its roots) closes its RustNotify from inside
# ``watch()``, which then still returns the changes already collected: one more step
# to notice them, one to see that no more come. Stopping only after this many further
# stop checks, and this long, means none of them is thrown away.
_RETIRE_CHECKS = 4
_RETIRE_SECONDS = 0.05

Recover = Callable[["NotifyReader", frozenset[str]], None]
"""Called on a reader's thread with the roots it no longer watches (all of them if it failed)."""


class NotifyReader:
    """One ``RustNotify`` and the thread that reads it.

    The object is also the ``stop_event`` handed to ``RustNotify.watch()``.
    """

    def __init__(
        self,
        notify: RustNotify,
        roots: frozenset[str],
        *,
        on_changes: ChangeSink,
        recover: Recover,
        hold: VcsHold,
        closing: threading.Event,
        step_ms: int,
        debounce_ms: int,
    ) -> None:
        self.roots = roots
        """The roots its ``RustNotify`` watches (the backend drops those found gone)."""
        self._notify = notify
        self._on_changes = on_changes
        self._recover = recover
        self._hold = hold
        self._closing = closing
        self._step_ms = step_ms
        self._debounce_ms = debounce_ms
        self._retire_requested = False
        self._retired_at: float | None = None
        self._checks_since_retired = 0
        self.thread = threading.Thread(
            target=self._run, name=f"reloadd-builtin {', '.join(sorted(roots))}", daemon=True
        )

    def retire(self) -> None:
        """Stop soon, without losing the changes collected so far (a newer reader covers them)."""
        self._retire_requested = True

    def close_notify(self) -> None:
        """Close the ``RustNotify`` (its own thread and inotify watches)."""
        self._notify.close()

    def is_set(self) -> bool:
        """The stop check ``RustNotify.watch()`` makes every step, from this reader's thread."""
        if self._closing.is_set():
            return True
        if not self._retire_requested:
            return False
        if self._retired_at is None:
            # Closing here, inside watch(), means watch() still returns what it collected.
            self._notify.close()
            self._retired_at = time.monotonic()
            return False
        self._checks_since_retired += 1
        return (
            self._checks_since_retired >= _RETIRE_CHECKS
            and time.monotonic() - self._retired_at >= _RETIRE_SECONDS
        )

    def _run(self) -> None:
        try:
            while not self._closing.is_set() and self._step():
                pass
        except Exception:
            log.exception("the built-in watcher of %s failed; watching afresh", self._names())
            self._recover(self, self.roots)
        finally:
            self._notify.close()

    def _step(self) -> bool:
        """Wait for one batch and deliver it; ``False`` once the thread should end."""
        try:
            result = self._notify.watch(self._debounce_ms, self._step_ms, 0, self)
        except WatchfilesRustInternalError as exc:
            if self._closing.is_set() or self._retired_at is not None:
                return False
            log.error(
                "the built-in watcher of %s failed (%s); watching afresh and asking for a rescan",
                self._names(),
                exc,
            )
            self._recover(self, self.roots)
            return False  # this RustNotify keeps failing; the new reader took over
        except Exception:
            if self._closing.is_set() or self._retired_at is not None:
                return False
            log.exception("the built-in watcher of %s failed unexpectedly", self._names())
            return not self._closing.wait(RETRY_DELAY)
        if isinstance(result, str):  # "stop" (closing, or retired), "signal", "timeout"
            return result != "stop"
        paths = {path for _, path in result}
        for change, path in result:
            if change == _ADDED and path not in self.roots:
                paths.update(_scan(path))
        ready = self._hold.settle(paths, self.roots)
        if ready:
            self._deliver(ChangeBatch(paths=frozenset(ready)))
        if self._retired_at is not None:
            return False
        removed = frozenset(root for root in self.roots if (_DELETED, root) in result)
        if removed:
            # Their inotify watches are gone, even if a new folder already took their place
            # (and maybe their inode number): the backend looks again.
            log.warning("the watched root %s was removed or moved", ", ".join(sorted(removed)))
            self._recover(self, removed)
        return True

    def _deliver(self, batch: ChangeBatch) -> None:
        try:
            self._on_changes(batch)
        except Exception:
            log.exception("the change sink failed on a batch of %d paths", len(batch.paths))

    def _names(self) -> str:
        return ", ".join(sorted(self.roots))


def open_notify(roots: Collection[str], *, force_polling: bool, poll_delay_ms: int) -> RustNotify:
    """A ``RustNotify`` watching every root recursively; raises :class:`BackendError`."""
    for root in roots:
        check_folder(root)
    names = ", ".join(roots)
    try:
        return RustNotify(list(roots), False, force_polling, poll_delay_ms, True, False)
    except FileNotFoundError as exc:
        raise BackendError(f"cannot watch {names}: no such folder ({exc})") from exc
    except PermissionError as exc:
        raise BackendError(
            f"cannot watch {names}: permission denied on a folder inside ({exc}); "
            "the built-in watcher needs to read every folder under a root"
        ) from exc
    except OSError as exc:
        if exc.errno == errno.ENOSPC or "limit" in str(exc).lower():
            raise BackendError(
                f"cannot watch {names}: the inotify watch limit is reached ({exc}); adding "
                "a root briefly needs the watches of every root twice; raise "
                "fs.inotify.max_user_watches, or use Watchman"
            ) from exc
        raise BackendError(f"cannot watch {names}: {exc}") from exc
    except WatchfilesRustInternalError as exc:
        if "os error 24" in str(exc):  # EMFILE from inotify_init: the per-user instance limit
            raise BackendError(
                f"cannot watch {names}: no inotify instance left ({exc}); the built-in "
                "watcher takes one (two while it adds a root), and "
                "fs.inotify.max_user_instances (often 128) is shared by every program of "
                "the user; raise it, or use Watchman"
            ) from exc
        raise BackendError(f"cannot watch {names}: {exc}") from exc


def _scan(folder: str) -> list[str]:
    """Everything below ``folder`` (empty if it is not a folder, or is a symlink)."""
    found: list[str] = []
    if os.path.islink(folder):
        return found
    for parent, dirs, files in os.walk(folder):
        found.extend(os.path.join(parent, name) for name in (*dirs, *files))
    return found
