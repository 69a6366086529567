"""The pages of one server process: their streams, and what is published to them.

A :class:`Hub` holds one :class:`Sink` per open event stream and hands each published
:class:`~reloadd.client.browser.page_events.PageEvent` to all of them, from any thread.
A stream is a blocking iterator of bytes (:meth:`Hub.stream`, for WSGI and Django) or
an async one (:meth:`Hub.astream`, for ASGI); both start with ``hello`` and end when
the page goes away, :meth:`Hub.close` is called, or the process exits.

The process's hub (:func:`process_hub`) carries the boot id: a new one per process,
so that a page whose server restarted sees another id when it connects again.
"""

from __future__ import annotations

import asyncio
import atexit
import os
import queue
import secrets
import threading
from collections.abc import AsyncIterator, Callable, Iterator

from reloadd.client.browser.page_events import KEEPALIVE, PageEvent, hello, reload
from reloadd.protocol import ReloaddError

MAX_STREAMS = 64
"""Event streams one server process keeps open at once; a page beyond gets ``503``."""

MAX_QUEUED_EVENTS = 64
"""Events waiting for one stream; a page that falls further behind is told to reload, and
its stream ends."""

HELLO_WAIT = 5.0
"""Seconds a new stream waits for the server's folder watch to be in place before ``hello``."""

KEEPALIVE_INTERVAL = 15.0
"""Seconds between keep-alive comments on an idle stream."""

_CLOSED = object()

_FELL_BEHIND = reload([]).encode()
"""The last event of a stream that fell :data:`MAX_QUEUED_EVENTS` behind: whatever it
missed, a reload shows it."""


class Sink:
    """One open stream's queue: events in, bytes out."""

    def __init__(self, put: Callable[[object], None]) -> None:
        self._put = put
        self.dropped = False

    def send(self, item: object) -> None:
        """Queue ``item`` (an event, or the end); drop the stream if it does not read."""
        if self.dropped:
            return
        try:
            self._put(item)
        except (queue.Full, asyncio.QueueFull):
            self.dropped = True
            self._put_end()

    def _put_end(self) -> None:
        try:
            self._put(_CLOSED)
        except (queue.Full, asyncio.QueueFull):
            pass  # the reader sees `dropped` at its next wake-up


class TooManyStreams(ReloaddError):
    """:data:`MAX_STREAMS` pages are connected already, or the server is shutting down."""


class Hub:
    """The open event streams of one server process."""

    def __init__(self, server: str, boot: str | None = None) -> None:
        self.server = server
        """The server's name, sent in ``hello`` (for the page's console)."""
        self.boot = boot or secrets.token_hex(8)
        """This server process's id."""
        self._lock = threading.Lock()
        self._sinks: set[Sink] = set()
        self._closed = False
        self._exit_hooked = False
        self.settled = threading.Event()
        """Set once what the server watches for its pages is watched: ``hello`` waits for it
        (at most :data:`HELLO_WAIT`), so a page that has its ``hello`` misses no change."""
        self.settled.set()

    @property
    def streams(self) -> int:
        """How many streams are open."""
        with self._lock:
            return len(self._sinks)

    def publish(self, event: PageEvent) -> None:
        """Send ``event`` to every open stream."""
        with self._lock:
            sinks = list(self._sinks)
        for sink in sinks:
            sink.send(event)

    def close(self) -> None:
        """End every stream (the pages connect again, to the next server process)."""
        with self._lock:
            self._closed = True
            sinks, self._sinks = list(self._sinks), set()
        for sink in sinks:
            sink.send(_CLOSED)

    def _add(self, sink: Sink) -> None:
        with self._lock:
            if self._closed:
                raise TooManyStreams("this server process is shutting down: connect to the next")
            if len(self._sinks) >= MAX_STREAMS:
                raise TooManyStreams(
                    f"{MAX_STREAMS} pages are connected to this server already: close some tabs"
                )
            self._sinks.add(sink)
            hook = not self._exit_hooked
            self._exit_hooked = True
        if hook:
            # Registered at the first stream, so after the server's own exit handlers
            # (Django's drain of open requests, registered when it bound its socket):
            # atexit runs the last registered first, so the streams end before the
            # drain waits for them.
            atexit.register(self.close)

    def _remove(self, sink: Sink) -> None:
        with self._lock:
            self._sinks.discard(sink)

    def stream(self) -> Iterator[bytes]:
        """The bytes of one page's stream; blocks between events. Raises :class:`TooManyStreams`.

        Registered at once (not at the first ``next()``), so nothing published after
        this call is missed.
        """
        waiting: queue.Queue[object] = queue.Queue(MAX_QUEUED_EVENTS)
        sink = Sink(waiting.put_nowait)
        self._add(sink)
        return self._drain(sink, waiting)

    def _drain(self, sink: Sink, waiting: queue.Queue[object]) -> Iterator[bytes]:
        try:
            self.settled.wait(HELLO_WAIT)
            yield hello(self.boot, self.server).encode()
            while True:
                try:
                    item = waiting.get(timeout=KEEPALIVE_INTERVAL)
                except queue.Empty:
                    item = KEEPALIVE
                chunk = _chunk(sink, item)
                if chunk is None:
                    return
                yield chunk
                if chunk is _FELL_BEHIND:
                    return
        finally:
            self._remove(sink)

    def astream(self) -> AsyncIterator[bytes]:
        """:meth:`stream` for an event loop: call it in the loop's thread."""
        loop = asyncio.get_running_loop()
        waiting: asyncio.Queue[object] = asyncio.Queue(MAX_QUEUED_EVENTS)

        def put(item: object) -> None:
            if waiting.qsize() >= MAX_QUEUED_EVENTS:
                raise asyncio.QueueFull
            try:
                loop.call_soon_threadsafe(_put_quietly, waiting, item)
            except RuntimeError:
                pass  # the loop is closed (the process exits): its streams are gone

        sink = Sink(put)
        self._add(sink)
        return self._adrain(sink, waiting)

    async def _adrain(self, sink: Sink, waiting: asyncio.Queue[object]) -> AsyncIterator[bytes]:
        try:
            if not self.settled.is_set():
                await asyncio.get_running_loop().run_in_executor(
                    None, self.settled.wait, HELLO_WAIT
                )
            yield hello(self.boot, self.server).encode()
            while True:
                try:
                    item = await asyncio.wait_for(waiting.get(), KEEPALIVE_INTERVAL)
                except asyncio.TimeoutError:
                    item = KEEPALIVE
                chunk = _chunk(sink, item)
                if chunk is None:
                    return
                yield chunk
                if chunk is _FELL_BEHIND:
                    return
        finally:
            self._remove(sink)


def _chunk(sink: Sink, item: object) -> bytes | None:
    """The bytes to send for ``item`` taken from ``sink``'s queue; None for the end."""
    if sink.dropped:
        return _FELL_BEHIND
    if isinstance(item, bytes):
        return item
    if isinstance(item, PageEvent):
        return item.encode()
    return None


def _put_quietly(waiting: asyncio.Queue[object], item: object) -> None:
    try:
        waiting.put_nowait(item)
    except asyncio.QueueFull:
        pass  # counted by the sender's size check; the stream ends on `dropped`


_process_hub: Hub | None = None
_process_lock = threading.Lock()


def _forget_process_hub() -> None:
    """In a forked child: a new process, so a new hub and boot id (a warm start forks servers)."""
    global _process_hub, _process_lock
    _process_hub = None
    _process_lock = threading.Lock()


os.register_at_fork(after_in_child=_forget_process_hub)


def process_hub() -> Hub:
    """This process's hub (made at the first call, named after the process)."""
    global _process_hub
    with _process_lock:
        if _process_hub is None:
            from reloadd.client.connect import default_name

            _process_hub = Hub(default_name())
        return _process_hub
