"""What the Watchman backend's threads share: its roots, their clocks, the connection's state.

One :class:`SharedState` per backend, every field guarded by its lock. The caller's
thread (:meth:`~reloadd.daemon.backends.watchman.WatchmanBackend.watch_roots`) adds
roots; the reader thread (:mod:`~reloadd.daemon.backends.watchman_reader`) publishes
clocks, forgets canceled roots and reports the connection lost or back; the daemon's
main thread reads roots and clocks. See :mod:`reloadd.daemon.backends.watchman`.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from pathlib import Path

from reloadd.daemon.backends.nesting import is_covered


class SharedState:
    """The roots watched, their delivered clocks, and whether the reader is connected."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        # Guarded by lock.
        self.roots: set[Path] = set()
        """The roots watched now (none lies below another)."""
        self.canceled: set[Path] = set()
        """Roots Watchman stopped watching (deleted): rescanned when watched again."""
        self.clocks: dict[Path, str] = {}
        """Per root, the clock up to which every change was handed to the sink."""
        self.generation = 0
        """Bumped each time the subscription connection is lost."""
        self.lost = threading.Condition(self.lock)
        """Notified when the generation is bumped."""
        self.prime_subscriptions = False
        """Whether this Watchman needs new subscriptions primed (Watchman 4.x)."""
        self.closed = False
        self.connected = threading.Event()
        """Set while the subscription connection is up and every root is subscribed."""

    def covered(self, roots: Iterable[Path]) -> list[Path]:
        """Those of ``roots`` (sorted, real paths) that no watched root covers."""
        with self.lock:
            covered = set(self.roots)
        wanted: list[Path] = []
        for root in roots:
            if not is_covered(root, covered):
                wanted.append(root)
                covered.add(root)
        return wanted

    def publish(self, roots: Iterable[Path], clock: str | None) -> None:
        """Make ``clock`` the delivered clock of ``roots`` (not while reconnecting)."""
        if clock is None:
            return
        with self.lock:
            if not self.connected.is_set():
                return
            for root in roots:
                self.clocks[root] = clock

    def forget_below(self, watch_root: Path, roots: Iterable[Path]) -> None:
        """Watchman dropped ``watch_root``: its roots are no longer watched (rescanned later)."""
        with self.lock:
            gone = {r for r in self.roots if is_covered(r, [watch_root])}
            self.roots -= gone
            self.canceled |= gone
            for root in roots:
                self.clocks.pop(root, None)
