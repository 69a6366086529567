"""One conversation with a daemon: a DEALER socket, request/reply by id, and a disconnect monitor.

The :class:`Channel` knows nothing of registrations or fallbacks; the
:class:`~reloadd.client.Client` opens a new one for every (re)connection.
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Callable
from typing import TypeVar

import zmq

from reloadd.client import log
from reloadd.protocol import (
    Bye,
    Changed,
    DaemonNotRunning,
    DaemonTimeout,
    Error,
    ErrorCode,
    Message,
    ProtocolError,
    Reply,
    Request,
    RequestRejected,
    decode,
    encode,
)
from reloadd.protocol.endpoint import Endpoint

R = TypeVar("R", bound=Reply)


class Channel:
    """A DEALER socket connected to ``endpoint``; ``changed`` messages go to ``on_changed``."""

    def __init__(
        self,
        context: zmq.Context[zmq.Socket[bytes]],
        endpoint: Endpoint,
        on_changed: Callable[[Changed], None],
    ) -> None:
        self.endpoint = endpoint
        self._on_changed = on_changed
        self._ids = itertools.count(1)
        self.last_heard = time.time()
        """When anything last came from the daemon (Unix time)."""
        self.last_sent = time.monotonic()
        """When anything was last sent (monotonic clock)."""
        self._socket: zmq.Socket[bytes] | None = context.socket(zmq.DEALER)
        self._socket.setsockopt(zmq.LINGER, 0)
        # Told at once when the daemon's end goes away (it died or stopped), so a
        # restart need not wait for missed heartbeats.
        self._monitor: zmq.Socket[bytes] | None = self._socket.get_monitor_socket(
            zmq.EVENT_DISCONNECTED
        )
        self._socket.connect(endpoint.address)

    def next_id(self) -> int:
        """A request id not used yet on this channel."""
        return next(self._ids)

    def send(self, message: Message) -> None:
        """Send one message without waiting."""
        sock = self._require_socket()
        try:
            sock.send(encode(message), zmq.NOBLOCK)
        except zmq.ZMQError as exc:
            raise DaemonNotRunning(
                f"cannot send to the daemon at {self.endpoint.address}: {exc}"
            ) from exc
        self.last_sent = time.monotonic()

    def request(self, message: Request, expected: type[R], *, timeout: float) -> R:
        """Send a request and wait for its reply; ``error`` replies raise."""
        self.send(message)
        deadline = time.monotonic() + timeout
        while True:
            reply = self.receive(max(0.0, deadline - time.monotonic()))
            if reply is None:
                raise DaemonTimeout(
                    f"the reloadd daemon for {self.endpoint.root} did not answer {message.TYPE} "
                    f"in time; see 'reloadd status --root {self.endpoint.root}' and its log "
                    f"{self.endpoint.log_path}"
                )
            if isinstance(reply, Changed):
                self._on_changed(reply)
            elif isinstance(reply, Error) and reply.re in (message.id, None):
                if reply.code == ErrorCode.NOT_REGISTERED:
                    raise DaemonNotRunning(reply.message)
                raise RequestRejected(reply.message, code=reply.code)
            elif isinstance(reply, expected) and reply.re == message.id:
                return reply
            else:
                log.debug("ignored a stray %s message", reply.TYPE)

    def receive(self, timeout: float | None) -> Message | None:
        """The next message, or None after ``timeout`` seconds; raises if the daemon went away."""
        sock = self._require_socket()
        poller = zmq.Poller()
        poller.register(sock, zmq.POLLIN)
        if self._monitor is not None:
            poller.register(self._monitor, zmq.POLLIN)
        try:
            # Rounded up: rounding down would spin through the last fraction of a millisecond.
            ready = dict(poller.poll(None if timeout is None else math.ceil(timeout * 1000)))
            if sock not in ready:
                if self._monitor is not None and self._monitor in ready:
                    self._monitor.recv_multipart(zmq.NOBLOCK)
                    raise DaemonNotRunning(f"the reloadd daemon for {self.endpoint.root} went away")
                return None
            data = sock.recv(zmq.NOBLOCK)
        except zmq.ZMQError as exc:
            raise DaemonNotRunning(f"lost the connection to the daemon: {exc}") from exc
        self.last_heard = time.time()
        try:
            return decode(data)
        except ProtocolError as exc:
            raise DaemonNotRunning(
                f"the daemon sent a message this client cannot read ({exc}); "
                "install the same reloadd version for both and restart the daemon"
            ) from exc

    def close(self, *, goodbye: bool = False) -> None:
        """Close the socket (idempotent); with ``goodbye``, say ``bye`` first."""
        if self._socket is None:
            return
        if goodbye:
            try:
                self._socket.send(encode(Bye()), zmq.NOBLOCK)
            except zmq.ZMQError:
                pass
        if self._monitor is not None:
            self._socket.disable_monitor()
            self._monitor.close(linger=0)
            self._monitor = None
        self._socket.close(linger=200 if goodbye else 0)
        self._socket = None

    def _require_socket(self) -> zmq.Socket[bytes]:
        if self._socket is None:
            raise DaemonNotRunning(f"not connected to the reloadd daemon for {self.endpoint.root}")
        return self._socket
