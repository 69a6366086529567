"""Keeping the daemon's connections below its open-file limit, so libzmq never aborts it.

libzmq 4.3.5 aborts the whole process when ``accept`` on an ``ipc://`` endpoint fails
with ``EMFILE`` (``Too many open files (src/ipc_listener.cpp:297)``: its IPC listener,
unlike its TCP one, does not list ``EMFILE`` among the errors it survives), and it
accepts on its own I/O thread with no hook before ``accept``. Unbinding the endpoint at
a cap is no way out either: ``zmq_unbind`` also drops every client connected through it.

So a :class:`ConnectionCap` counts connections from the ROUTER socket's monitor
(``ZMQ_EVENT_ACCEPTED`` adds one, ``ZMQ_EVENT_DISCONNECTED`` removes one) and refuses
each connection accepted beyond :func:`~reloadd.daemon.fd_limit.connection_cap` by
``shutdown(2)`` on its descriptor: libzmq sees the connection end, closes it and frees
the descriptor. Connections below the cap (the clients already served) are never
touched; a refused client's ZeroMQ socket connects again by itself, and gets in once
connections have closed. A peer that never completes the ZMTP handshake is dropped by
libzmq after :data:`HANDSHAKE_TIMEOUT`, so a flood of silent connections locks new
clients out for that long at most. (Refusing the oldest silent connection instead
would need to know which connection completed its handshake; libzmq's
``HANDSHAKE_SUCCEEDED`` event does not say which descriptor.)

Threads: the monitor socket is owned by one small thread, ``reloadd-connections``, that
does nothing else, so a refusal does not wait for the main thread (which owns the ROUTER
socket and may be busy). ``shutdown`` is a plain system call on a descriptor number, so
it needs no ZeroMQ socket. The cap leaves at least half of the limit free, because
libzmq's I/O thread goes on accepting until this thread (which needs the GIL and a CPU)
has refused the excess: under a 1,024 limit and a flood of 2,000 connections on a loaded
2-core machine, up to 223 more than the cap of 512 were open at once. So this makes the
abort unlikely, not impossible, when the hard limit is as low as 1,024; with the soft
limit raised (:func:`~reloadd.daemon.fd_limit.raise_fd_limit`) the margin is far larger.
Residual risk, accepted: a descriptor closed and reused between reading its event and
refusing it would be shut down instead (microseconds; the daemon reconnects what it owns).
"""

from __future__ import annotations

import logging
import socket as socket_module
import threading
from typing import Any

import zmq
from zmq.utils.monitor import parse_monitor_message

from reloadd.daemon.fd_limit import connection_cap

log = logging.getLogger("reloadd.daemon")

HANDSHAKE_TIMEOUT = 5.0
"""Seconds a new connection may take to complete the ZMTP handshake before libzmq drops it."""

JOIN_TIMEOUT = 2.0
"""Seconds :meth:`ConnectionCap.close` waits for the monitor thread."""

_EVENTS = zmq.EVENT_ACCEPTED | zmq.EVENT_DISCONNECTED | zmq.EVENT_MONITOR_STOPPED


class ConnectionCap:
    """Counts the connections of one ROUTER socket and refuses those beyond the cap.

    Create it on the thread that owns ``router``, right after binding; :meth:`close` it
    there too, before closing ``router`` and terminating the context.
    """

    def __init__(self, router: zmq.Socket[Any], *, cap: int | None = None) -> None:
        self._router = router
        self.cap = connection_cap() if cap is None else cap
        """Most connections kept open at once."""
        self._lock = threading.Lock()
        self._open: set[int] = set()
        self._refused = 0
        router.setsockopt(zmq.HANDSHAKE_IVL, int(HANDSHAKE_TIMEOUT * 1000))
        self._monitor: zmq.Socket[Any] = router.get_monitor_socket(_EVENTS)
        self._monitor.setsockopt(zmq.RCVHWM, 0)  # never drop an event: the count relies on each
        self._thread = threading.Thread(target=self._run, name="reloadd-connections", daemon=True)
        self._thread.start()

    @property
    def connections(self) -> int:
        """The connections open now, as far as the events read so far tell."""
        with self._lock:
            return len(self._open)

    def close(self) -> None:
        """Stop monitoring and end the thread (from the thread that owns the ROUTER socket)."""
        try:
            self._router.disable_monitor()  # the thread reads MONITOR_STOPPED and ends
        except zmq.ZMQError:
            pass  # the socket is closed already
        self._thread.join(JOIN_TIMEOUT)
        if self._thread.is_alive():
            log.warning("the connection monitor did not stop within %ss", JOIN_TIMEOUT)

    def _run(self) -> None:
        try:
            while True:
                try:
                    event = parse_monitor_message(self._monitor.recv_multipart())
                except zmq.ZMQError:
                    return  # the context is being terminated
                kind = event["event"]
                if kind == zmq.EVENT_MONITOR_STOPPED:
                    return
                fd = int(event["value"])
                if kind == zmq.EVENT_ACCEPTED:
                    self._accepted(fd)
                elif kind == zmq.EVENT_DISCONNECTED:
                    with self._lock:
                        self._open.discard(fd)
        finally:
            self._monitor.close(linger=0)

    def _accepted(self, fd: int) -> None:
        with self._lock:
            if len(self._open) < self.cap:
                self._open.add(fd)
                if self._refused:
                    log.info("accepting connections again (%d were refused)", self._refused)
                    self._refused = 0
                return
            self._refused += 1
            first = self._refused == 1
        if first:
            log.warning(
                "%d connections are open, the most this daemon keeps under its open-file "
                "limit; refusing new ones until some close",
                self.cap,
            )
        _refuse(fd)


def _refuse(fd: int) -> None:
    """End the connection on ``fd`` without closing the descriptor (libzmq still owns it)."""
    try:
        sock = socket_module.socket(fileno=fd)
    except OSError:
        return  # closed meanwhile
    try:
        sock.shutdown(socket_module.SHUT_RDWR)
    except OSError:
        pass  # not connected any more
    finally:
        sock.detach()  # the descriptor stays libzmq's to close
