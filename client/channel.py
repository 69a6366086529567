"""One conversation with a daemon: a DEALER socket, request/reply by id, and a disconnect monitor.

The :class:`Channel` knows nothing of registrations or fallbacks; the
:class:`~reloadd.client.Client` opens a new one for every (re)connection.

It is the boundary where ZeroMQ and msgpack meet the client: every ``zmq.ZMQError``
and every undecodable frame leaves it as a :class:`~reloadd.protocol.ReloaddError`
(``raise Mapped(...) from exc``) whose message says what to do.

Two threads use a channel: the application's (every method) and the client's
heartbeat thread (:meth:`Channel.beat` only, see :mod:`reloadd.client.heartbeat`).
The sockets are touched only while holding ``_lock``.
"""

from __future__ import annotations

import errno
import itertools
import math
import struct
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import TypeVar

import msgpack
import zmq

from reloadd.client import log
from reloadd.client.heartbeat import Heartbeat
from reloadd.protocol import (
    Bye,
    Changed,
    DaemonNotRunning,
    DaemonTimeout,
    Error,
    ErrorCode,
    Event,
    Message,
    Ping,
    ProtocolError,
    Reply,
    Request,
    RequestRejected,
    Restart,
    VersionMismatch,
    decode,
    encode,
)
from reloadd.protocol.endpoint import Endpoint, RemoteEndpoint, where_to_look

R = TypeVar("R", bound=Reply)

UNASKED = (Changed, Restart, Event)
"""The message types the daemon sends unasked, which may arrive between a request and its reply."""

INBOX_LIMIT = 1_000
"""Most messages the heartbeat thread reads ahead for a busy application; beyond, it only pings
(the rest waits in the socket, and the daemon bounds what it queues)."""


_REFUSED = zmq.EVENT_HANDSHAKE_FAILED_AUTH | zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL
"""A network daemon refused this client's key, or the two could not agree on security."""


def newer_than_us(data: bytes, exc: ProtocolError) -> bool:
    """Whether an unreadable message is one a newer daemon may send unasked, to be skipped.

    The protocol lets a daemon add message types that need no answer, and kinds of
    ``event``, without a new protocol version; a client that does not know them skips
    them (see docs/protocol.md, Versioning). Anything else unreadable is a real fault.
    """
    if exc.code is ErrorCode.UNKNOWN_TYPE:
        return True
    try:
        raw = msgpack.unpackb(data, raw=False)
    except (ValueError, TypeError, msgpack.UnpackException):
        return False
    return isinstance(raw, dict) and raw.get("type") == Event.TYPE and "re" not in raw


def lost(exc: zmq.ZMQError, endpoint: Endpoint | RemoteEndpoint, doing: str) -> DaemonNotRunning:
    """A ZeroMQ failure while ``doing`` something, as a reloadd error that says what to do."""
    if exc.errno in (errno.EMFILE, errno.ENFILE):
        hint = "this process has too many open files; raise its limit ('ulimit -n') or close some"
    else:
        hint = where_to_look(endpoint)
    return DaemonNotRunning(
        f"cannot {doing} the reloadd daemon at {endpoint.address} ({exc}); {hint}"
    )


class Channel:
    """A DEALER socket connected to ``endpoint``; unasked messages met while waiting for a
    reply (``changed``, ``restart``, ``event``) go to ``on_unasked``.

    ``secure`` sets a network endpoint's CurveZMQ keys on the socket before it connects.
    """

    def __init__(
        self,
        context: zmq.Context[zmq.Socket[bytes]],
        endpoint: Endpoint | RemoteEndpoint,
        on_unasked: Callable[[Message], None],
        secure: Callable[[zmq.Socket[bytes]], None] | None = None,
    ) -> None:
        self.endpoint = endpoint
        self._on_unasked = on_unasked
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._inbox: deque[Message] = deque()
        self._gone: DaemonNotRunning | None = None
        """Set by the heartbeat thread when it found the daemon gone; raised at the next read."""
        self._heartbeat: Heartbeat | None = None
        self.last_heard = time.time()
        """When anything last came from the daemon (Unix time)."""
        self.last_sent = time.monotonic()
        """When anything was last sent (monotonic clock)."""
        self._socket: zmq.Socket[bytes] | None = None
        self._monitor: zmq.Socket[bytes] | None = None
        try:
            self._socket = context.socket(zmq.DEALER)
            self._socket.setsockopt(zmq.LINGER, 0)
            if secure is not None:
                secure(self._socket)
            # Told at once when the daemon's end goes away (it died or stopped), so a
            # restart need not wait for missed heartbeats.
            events = zmq.EVENT_DISCONNECTED | (_REFUSED if secure is not None else 0)
            self._monitor = self._socket.get_monitor_socket(events)
            self._socket.connect(endpoint.address)
        except zmq.ZMQError as exc:
            self.close()
            raise lost(exc, endpoint, "connect to") from exc

    def next_id(self) -> int:
        """A request id not used yet on this channel."""
        return next(self._ids)

    def start_heartbeat(self, interval: float) -> None:
        """Ping the daemon every ``interval`` seconds from a thread while the application is busy."""
        if self._heartbeat is None:
            try:
                self._heartbeat = Heartbeat(lambda: self.beat(interval), interval)
            except RuntimeError as exc:  # no thread can be started: pings only from wait()
                log.info("no heartbeat thread for the reloadd client (%s)", exc)

    def send(self, message: Message, *, room_within: float = 0.0) -> None:
        """Send one message without waiting for an answer.

        When the socket's queue is full (the daemon has not read the previous
        ``SNDHWM`` messages yet) wait up to ``room_within`` seconds for room before
        taking the daemon for gone.
        """
        with self._lock:
            self._send(message, room_within)

    def request(self, message: Request, expected: type[R], *, timeout: float) -> R:
        """Send a request and wait for its reply; ``error`` replies raise."""
        self.send(message)
        deadline = time.monotonic() + timeout
        while True:
            reply = self.receive(max(0.0, deadline - time.monotonic()))
            if reply is None:
                raise DaemonTimeout(
                    f"the reloadd daemon for {self.endpoint.root} did not answer {message.TYPE} "
                    f"in time; {where_to_look(self.endpoint)}"
                )
            if isinstance(reply, UNASKED):
                self._on_unasked(reply)
            elif isinstance(reply, Error) and reply.re in (message.id, None):
                if reply.code == ErrorCode.NOT_REGISTERED:
                    raise DaemonNotRunning(reply.message)
                if reply.code == ErrorCode.VERSION_MISMATCH:
                    raise VersionMismatch(reply.message)
                raise RequestRejected(reply.message, code=reply.code)
            elif isinstance(reply, expected) and reply.re == message.id:
                return reply
            else:
                log.debug("ignored a stray %s message", reply.TYPE)

    def receive(self, timeout: float | None) -> Message | None:
        """The next message, or None after ``timeout`` seconds; raises if the daemon went away."""
        with self._lock:
            if self._inbox:
                return self._inbox.popleft()
            if self._gone is not None:
                raise self._gone
            return self._read(timeout)

    def beat(self, interval: float) -> None:
        """From the heartbeat thread: ping if due, and read ahead, unless the application is busy."""
        if not self._lock.acquire(blocking=False):
            return  # the application's thread is talking to the daemon: no need
        try:
            if self._socket is None or self._gone is not None:
                return
            if time.monotonic() - self.last_sent >= interval:
                self._send(Ping(id=self.next_id()))
            while len(self._inbox) < INBOX_LIMIT and (message := self._read(0)) is not None:
                self._inbox.append(message)
        except DaemonNotRunning as exc:
            self._gone = exc
        finally:
            self._lock.release()

    def close(self, *, goodbye: bool = False) -> None:
        """Close the socket (idempotent); with ``goodbye``, say ``bye`` first."""
        if self._heartbeat is not None:
            self._heartbeat.stop()
            self._heartbeat = None
        with self._lock:
            if self._socket is None:
                return
            if goodbye:
                try:
                    self._socket.send(encode(Bye()), zmq.NOBLOCK)
                except zmq.ZMQError:
                    pass  # nobody to say goodbye to
            if self._monitor is not None:
                try:
                    self._socket.disable_monitor()
                except zmq.ZMQError:
                    pass  # the monitor never started
                self._monitor.close(linger=0)
                self._monitor = None
            self._socket.close(linger=200 if goodbye else 0)
            self._socket = None

    # -- with the lock held ---------------------------------------------------------------------

    def _send(self, message: Message, room_within: float = 0.0) -> None:
        sock = self._require_socket()
        try:
            data = encode(message)
        except (ValueError, TypeError) as exc:  # msgpack's own errors derive from these
            raise ProtocolError(
                f"cannot send a {message.TYPE} message ({exc}); the protocol carries UTF-8 "
                "strings only: report this as a reloadd bug if your paths are valid"
            ) from exc
        try:
            if room_within > 0 and not sock.poll(int(room_within * 1000), zmq.POLLOUT):
                raise zmq.Again()
            sock.send(data, zmq.NOBLOCK)
        except zmq.ZMQError as exc:
            raise lost(exc, self.endpoint, "send to") from exc
        self.last_sent = time.monotonic()

    def _read(self, timeout: float | None) -> Message | None:
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            data = self._read_frame(timeout)
            if data is None:
                return None
            self.last_heard = time.time()
            try:
                return decode(data)
            except ProtocolError as exc:
                if not newer_than_us(data, exc):
                    raise DaemonNotRunning(
                        f"the daemon sent a message this client cannot read ({exc}); "
                        "install the same reloadd version for both and restart the daemon"
                    ) from exc
                log.debug("skipped a message of a newer daemon: %s", exc)
            if deadline is not None:
                timeout = max(0.0, deadline - time.monotonic())

    def _read_frame(self, timeout: float | None) -> bytes | None:
        sock = self._require_socket()
        try:
            poller = zmq.Poller()
            poller.register(sock, zmq.POLLIN)
            if self._monitor is not None:
                poller.register(self._monitor, zmq.POLLIN)
            # Rounded up: rounding down would spin through the last fraction of a millisecond.
            ready = dict(poller.poll(None if timeout is None else math.ceil(timeout * 1000)))
            if sock not in ready:
                if self._monitor is not None and self._monitor in ready:
                    event = self._monitor.recv_multipart(zmq.NOBLOCK)
                    raise self._gone_because(event)
                return None
            data: bytes = sock.recv(zmq.NOBLOCK)
        except zmq.ZMQError as exc:
            raise lost(exc, self.endpoint, "read from") from exc
        return data

    def _gone_because(self, event: list[bytes]) -> DaemonNotRunning:
        from zmq.utils.monitor import parse_monitor_message

        try:
            kind = int(parse_monitor_message(event)["event"])
        except (ValueError, KeyError, IndexError, struct.error):
            kind = 0
        if kind & _REFUSED:
            return DaemonNotRunning(
                f"the reloadd daemon at {self.endpoint.address} refused this client: its key "
                "is not allowed there, or RELOADD_SERVER_KEY is not that daemon's key; on the "
                "daemon's machine, 'reloadd keys list' shows the allowed keys and 'reloadd keys "
                "allow FILE' adds this client's .key"
            )
        return DaemonNotRunning(f"the reloadd daemon for {self.endpoint.root} went away")

    def _require_socket(self) -> zmq.Socket[bytes]:
        if self._socket is None:
            raise DaemonNotRunning(f"not connected to the reloadd daemon for {self.endpoint.root}")
        return self._socket
