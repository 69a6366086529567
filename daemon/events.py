"""The event stream: every subscriber (an editor, ``reloadd events``) is sent what happens, within a bound.

A subscriber is a registered connection that sent ``subscribe``. Each event is
numbered on its subscription (``seq`` 1, 2, ...) and sent at once; the daemon keeps
no queue of its own, ZeroMQ's queue for the connection is the queue. What bounds it
is the subscriber's account of events sent and not yet acknowledged (``events_read``):
at most :data:`~reloadd.protocol.limits.MAX_QUEUED_EVENTS_PER_SUBSCRIBER` events and
:data:`~reloadd.protocol.limits.MAX_QUEUED_EVENT_BYTES_PER_SUBSCRIBER` bytes. Events
beyond are dropped for that subscriber and counted; once it acknowledges everything it
was sent, it gets one ``events-dropped`` with the count, then live events again.

Why an acknowledgment, when the outbox (:mod:`reloadd.daemon.outbox`) resets a
client's account whenever it is heard from: a subscriber's heartbeat thread keeps
pinging while its application reads no event (the thread reads ahead into a bounded
inbox, then leaves the rest in the socket), so "heard from" does not mean "read".
The event limit is well under the socket's high-water mark (``SEND_HWM``), so a
subscriber that stops reading is never mistaken for one that is gone.

Main thread only.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from reloadd.daemon.registry import ClientId, ClientRecord
from reloadd.protocol import Event, EventKind, encode
from reloadd.protocol.limits import (
    MAX_EVENT_PATHS,
    MAX_QUEUED_EVENT_BYTES_PER_SUBSCRIBER,
    MAX_QUEUED_EVENTS_PER_SUBSCRIBER,
)
from reloadd.protocol.record import fields

SendEncoded = Callable[[ClientId, str, bytes], bool]
"""Sends an encoded message (its type named for the log) to a connection; False if it could not."""


@dataclass
class _Subscriber:
    sent: int = 0
    """The ``seq`` of the last event sent."""
    unread: deque[tuple[int, int]] = field(default_factory=deque)
    """(seq, bytes) of each event sent and not acknowledged, oldest first."""
    unread_bytes: int = 0
    dropped: int = 0
    """Events dropped since the subscriber was last told of drops."""


class EventBus:
    """The subscribers and their accounts; :meth:`emit` sends one event to each."""

    def __init__(
        self,
        send: SendEncoded,
        *,
        max_events: int = MAX_QUEUED_EVENTS_PER_SUBSCRIBER,
        max_bytes: int = MAX_QUEUED_EVENT_BYTES_PER_SUBSCRIBER,
    ) -> None:
        self._send = send
        self._max_events = max_events
        self._max_bytes = max_bytes
        self._subscribers: dict[ClientId, _Subscriber] = {}

    def __len__(self) -> int:
        """How many subscribers there are."""
        return len(self._subscribers)

    def __contains__(self, identity: object) -> bool:
        return identity in self._subscribers

    def subscribe(self, identity: ClientId) -> None:
        """Send this connection every event from now on (a second ``subscribe`` changes nothing)."""
        self._subscribers.setdefault(identity, _Subscriber())

    def unsubscribe(self, identity: ClientId) -> None:
        """Stop sending to this connection (it left)."""
        self._subscribers.pop(identity, None)

    def dropped(self, identity: ClientId) -> int:
        """How many events were dropped for this subscriber and not yet reported to it."""
        subscriber = self._subscribers.get(identity)
        return subscriber.dropped if subscriber is not None else 0

    def emit(self, event: Event) -> None:
        """Send ``event`` (its ``seq`` set per subscriber) to every subscriber with room for it."""
        for identity, subscriber in list(self._subscribers.items()):
            if subscriber.dropped or len(subscriber.unread) >= self._max_events:
                subscriber.dropped += 1  # once dropping, until it catches up: events stay in order
                continue
            self._deliver(identity, subscriber, event)

    def read(self, identity: ClientId, seq: int) -> None:
        """The subscriber read every event up to ``seq``; if it caught up after drops, say how many."""
        subscriber = self._subscribers.get(identity)
        if subscriber is None:
            return
        while subscriber.unread and subscriber.unread[0][0] <= seq:
            subscriber.unread_bytes -= subscriber.unread.popleft()[1]
        if subscriber.dropped and not subscriber.unread:
            dropped, subscriber.dropped = subscriber.dropped, 0
            notice = Event(event=EventKind.EVENTS_DROPPED, time=time.time(), dropped=dropped)
            self._deliver(identity, subscriber, notice)

    def _deliver(self, identity: ClientId, subscriber: _Subscriber, event: Event) -> None:
        numbered = Event(**{**_fields(event), "seq": subscriber.sent + 1})  # type: ignore[arg-type]
        data = encode(numbered)
        if subscriber.unread and subscriber.unread_bytes + len(data) > self._max_bytes:
            subscriber.dropped += 1
            return
        if not self._send(identity, numbered.TYPE, data):
            self._subscribers.pop(identity, None)  # gone: the outbox reported it
            return
        subscriber.sent += 1
        subscriber.unread.append((subscriber.sent, len(data)))
        subscriber.unread_bytes += len(data)


def _fields(event: Event) -> dict[str, object]:
    return {f.name: getattr(event, f.name) for f in fields(event)}


def bounded_paths(
    paths: Iterable[str], limit: int = MAX_EVENT_PATHS
) -> tuple[tuple[str, ...], int]:
    """At most ``limit`` of ``paths``, sorted, and how many were left out."""
    ordered = sorted(paths)
    return tuple(ordered[:limit]), max(0, len(ordered) - limit)


def client_event(kind: EventKind, record: ClientRecord, at: float | None = None) -> Event:
    """A ``client-joined`` or ``client-left`` event for this client."""
    return Event(
        event=kind,
        time=time.time() if at is None else at,
        client=record.name,
        pid=record.pid,
        role=record.role,
    )
