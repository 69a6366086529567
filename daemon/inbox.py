"""A thread-safe queue the daemon's ZeroMQ poller can wait on (through a :class:`Wakeup`)."""

from __future__ import annotations

import threading
from collections import deque
from typing import Generic, TypeVar

from reloadd.protocol.wakeup import Wakeup

T = TypeVar("T")


class Inbox(Generic[T]):
    """Items put from any thread, drained by the main loop when :meth:`fileno` is readable."""

    def __init__(self) -> None:
        self._wakeup = Wakeup()
        self._items: deque[T] = deque()
        self._lock = threading.Lock()
        self._signalled = False

    def fileno(self) -> int:
        """The descriptor that becomes readable when items are waiting."""
        return self._wakeup.fileno()

    def put(self, item: T) -> None:
        """Queue an item and wake the main loop (never blocks)."""
        with self._lock:
            self._items.append(item)
            if not self._signalled:
                self._signalled = True
                self._wakeup.set()

    def drain(self) -> list[T]:
        """Take every waiting item."""
        with self._lock:
            self._wakeup.clear()
            items = list(self._items)
            self._items.clear()
            self._signalled = False
        return items

    def close(self) -> None:
        """Close the pipe."""
        self._wakeup.close()
