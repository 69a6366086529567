"""The client's side of the event stream (``Client.events()``) and of ``reload``.

:class:`Subscriber` is the half of :class:`~reloadd.client.Client` that follows the
daemon's events. It subscribes at the first :meth:`~Subscriber.events` call, and
again by itself whenever the client registers again (the daemon restarted or forgot
it): then it yields :class:`~reloadd.client.events.Resubscribed` and a fresh snapshot,
since events may have been missed meanwhile.

Events are acknowledged (``events_read``) only once yielded, so what the daemon sends
an application that stopped iterating stays bounded on both sides (see
:mod:`reloadd.daemon.events` for the daemon's side).
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Iterator

from reloadd.client.events import DaemonEvent, Resubscribed, from_message, from_snapshot
from reloadd.client.link import Link
from reloadd.client.states import State
from reloadd.protocol import (
    DaemonNotRunning,
    DaemonTimeout,
    Event,
    EventsRead,
    Reload,
    Reloading,
    Subscribe,
    Subscribed,
)

ACK_EVERY = 32
"""Events read between two ``events_read`` while more are waiting (one is sent whenever none are)."""


class Subscriber(Link):
    """Events and ``reload`` for :class:`~reloadd.client.Client`."""

    _events: deque[tuple[int, DaemonEvent]]
    """Events received, not yet yielded, with their ``seq`` (0 for the snapshot's)."""
    _wants_events: bool
    _read_seq: int
    """The ``seq`` of the last event yielded."""
    _acked_seq: int

    def _init_subscription(self) -> None:
        self._events = deque()
        self._wants_events = False
        self._read_seq = self._acked_seq = 0

    def events(self, timeout: float | None = None) -> Iterator[DaemonEvent]:
        """Follow the daemon's event stream: every client as it stands, then live events.

        Subscribes before it returns: every event from then on is yielded.

        Yields first one :class:`~reloadd.client.events.ClientJoined` per connected dev
        server and editor, and a :class:`~reloadd.client.events.StateChanged` for each that
        reported a state; then events as they happen. Stops once ``timeout`` seconds pass
        without an event (never if None); iterating again goes on where it stopped. If the
        daemon restarts, the client subscribes again and yields
        :class:`~reloadd.client.events.Resubscribed` then a fresh snapshot. Raises
        :class:`~reloadd.protocol.DaemonNotRunning` when the daemon is gone and this client
        may not fall back (``spawn=False``); while it polls in-process, no events come.
        """
        self._retry_if_lost()
        if not self._wants_events:
            self._wants_events = True
            if self._channel is not None and self._machine.state is State.REGISTERED:
                try:
                    self._subscribe()
                except (DaemonNotRunning, DaemonTimeout) as exc:
                    self._reconnect(exc)  # subscribes again, or raises, or polls
        return self._follow(timeout)

    def _follow(self, timeout: float | None) -> Iterator[DaemonEvent]:
        while (event := self._next_event(timeout)) is not None:
            yield event

    def reload(self, name: str | None = None) -> list[str]:
        """Ask the daemon to restart the dev server ``name`` (as ``status`` names it), or every
        dev server; return the names of those asked. An unknown name raises
        :class:`~reloadd.protocol.RequestRejected`, whose message lists the connected ones."""
        self._retry_if_lost()
        channel = self._require_channel()
        reply = channel.request(
            Reload(id=channel.next_id(), name=name or ""), Reloading, timeout=self.request_timeout
        )
        return list(reply.clients)

    # -- internals ------------------------------------------------------------------------------

    def _subscribe(self) -> None:
        channel = self._require_channel()
        reply = channel.request(
            Subscribe(id=channel.next_id()), Subscribed, timeout=self.request_timeout
        )
        self._read_seq = self._acked_seq = 0
        self._events.extend((0, event) for event in from_snapshot(reply.clients))

    def _after_reconnect(self) -> None:
        if not self._wants_events:
            return
        self._events.clear()  # numbered by the old subscription: nothing to acknowledge any more
        pid = self._welcome.pid if self._welcome is not None else 1
        self._events.append((0, Resubscribed(time=time.time(), daemon_pid=pid)))
        self._subscribe()

    def _on_event(self, message: Event) -> None:
        if self._wants_events:
            self._events.append((message.seq, from_message(message)))

    def _next_event(self, timeout: float | None) -> DaemonEvent | None:
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self._events:
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                return None
            if self._machine.state is State.POLLING:
                self._poll_once(remaining)
            elif self._machine.state is State.LOST:
                self._retry_if_lost()
            else:
                self._wait_on_daemon(remaining)
        seq, event = self._events.popleft()
        self._read_seq = max(self._read_seq, seq)
        if self._read_seq > self._acked_seq and (
            not self._events or self._read_seq - self._acked_seq >= ACK_EVERY
        ):
            self._acknowledge()
        return event

    def _acknowledge(self) -> None:
        if self._channel is None or self._machine.state is not State.REGISTERED:
            return
        try:
            self._channel.send(EventsRead(seq=self._read_seq))
        except (DaemonNotRunning, DaemonTimeout) as exc:
            self._reconnect(exc)
            return
        self._acked_seq = self._read_seq
