"""The small interface every watch backend implements (Watchman, built-in).

A backend watches whole *roots* (folders) recursively and reports batches of
changed absolute paths; the daemon filters them down to what clients
registered. Backends run their own threads. :meth:`Backend.start` and
:meth:`Backend.watch_roots` are called from one thread at a time: the daemon's main
thread while it starts (resuming the previous run's roots), later its watch thread
(``reloadd-watch``), so that a long first crawl never blocks the socket loop;
:meth:`Backend.watch_roots` blocks until the roots are watched. :meth:`Backend.clocks`,
:meth:`Backend.watched_roots` and :meth:`Backend.close` are called from the daemon's
main thread, possibly while a :meth:`Backend.watch_roots` runs.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ChangeBatch:
    """Paths that changed together (one settle window or one VCS operation)."""

    paths: frozenset[str] = frozenset()
    """Absolute paths of files (or folders) that were created, modified or removed."""
    rescan_roots: frozenset[Path] = frozenset()
    """Folders under which changes may have been missed (Watchman restarted or recrawled, a
    watcher failed, a folder was moved away and only its name was reported): the daemon
    re-checks the files it tracks there and reports only those whose size or mtime really
    changed."""


ChangeSink = Callable[[ChangeBatch], None]
"""Called by a backend, from any of its threads, with each batch of changes."""


class Backend(ABC):
    """A source of file-change batches for a set of watched roots."""

    name: str
    """Short name shown in ``reloadd status`` and the ``welcome`` message (a class attribute,
    except on a wrapper, which takes the name of the backend it wraps)."""

    def __init__(self, on_changes: ChangeSink) -> None:
        self._on_changes = on_changes

    @abstractmethod
    def start(self) -> None:
        """Connect or initialise; raise :class:`~reloadd.protocol.BackendError` if unusable."""

    @abstractmethod
    def watch_roots(
        self, roots: Iterable[Path], *, timeout: float, since: Mapping[Path, str] | None = None
    ) -> None:
        """Watch each root recursively; return only once any later change is sure to be reported.

        Roots already watched cost nothing. ``since`` maps a root to a clock from
        :meth:`clocks` of an earlier run: changes made after it are reported too
        (as a batch, soon after). Raises :class:`~reloadd.protocol.BackendError`
        when a root cannot be watched within ``timeout`` seconds.
        """

    def clocks(self) -> dict[Path, str]:
        """Per watched root, a clock that a later run can pass as ``since`` (none by default)."""
        return {}

    @abstractmethod
    def watched_roots(self) -> frozenset[Path]:
        """The roots watched now."""

    def polled_roots(self) -> frozenset[Path]:
        """The roots among :meth:`watched_roots` that are polled, not watched (none by default;
        see :mod:`~reloadd.daemon.backends.polling_router`)."""
        return frozenset()

    @abstractmethod
    def close(self) -> None:
        """Stop watching and end the backend's threads (idempotent)."""
