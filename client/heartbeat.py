"""The client's heartbeat thread: the daemon hears from a client whose application is busy.

A dev server may not call :meth:`~reloadd.client.Client.wait` for a long while (a slow
request, a debugger stopped at a breakpoint). Without a heartbeat the daemon would take it
for gone after its silence limit and the client would take the daemon for gone, and the
reconnection that follows can repeat a notification.

The design, the simplest correct one we found: the thread shares the client's one ZeroMQ
socket with the application's thread, under the channel's lock. ZeroMQ sockets are not
thread-safe, but a socket may be used from several threads when a full memory barrier
separates the uses, which taking and releasing a lock is. The thread only *tries* the
lock: while the application holds it (it waits for a reply or a notification, and then
sends its own pings) the thread has nothing to do. When it gets the lock it sends a
``ping`` if none went out for a heartbeat, and moves what the daemon sent into the
channel's inbox (so the pongs keep the daemon "heard from"), where the application's
thread finds it, in order, at its next call. A second socket would not do: the daemon
knows a client by its connection. The thread is a daemon thread; it never outlives
its channel's :meth:`~reloadd.client.channel.Channel.close`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

JOIN_TIMEOUT = 1.0
"""Seconds :meth:`Heartbeat.stop` waits for the thread (it holds the lock for a few µs only)."""


class Heartbeat:
    """Calls ``beat()`` every ``interval / 2`` seconds on a daemon thread until :meth:`stop`."""

    def __init__(self, beat: Callable[[], None], interval: float) -> None:
        self._beat = beat
        self._interval = interval
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="reloadd-heartbeat", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stopped.wait(self._interval / 2):
            self._beat()

    def stop(self) -> None:
        """Stop the thread and wait for it (bounded)."""
        self._stopped.set()
        if self._thread is not threading.current_thread():
            self._thread.join(JOIN_TIMEOUT)
