"""Everything the daemon sends goes through the :class:`Outbox`, which bounds each client's queue.

ZeroMQ's send high-water mark counts messages, not bytes: a client that never
reads could make the daemon hold thousands of notifications of megabytes each.
The outbox keeps its own account instead: the bytes sent to each connection
since it was last heard from (a client pings every heartbeat while it waits, and
reads every reply before its next request). Past
:data:`~reloadd.protocol.limits.MAX_QUEUED_BYTES_PER_CLIENT`, its notifications
are held back and coalesced into one set of paths (at most ``MAX_CHANGED_PATHS``,
then ``truncated``), sent as one notification as soon as it is heard from again.
Replies are always sent: the socket's message high-water mark
(:data:`SEND_HWM`) bounds those of a client that sends requests without reading.

Main thread only.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection
from dataclasses import dataclass, field

import zmq

from reloadd.daemon.registry import ClientId
from reloadd.protocol import Changed, Message, encode
from reloadd.protocol.limits import MAX_CHANGED_PATHS, MAX_QUEUED_BYTES_PER_CLIENT
from reloadd.protocol.split import split_changed

log = logging.getLogger("reloadd.daemon")

SEND_HWM = 1_000
"""Most messages ZeroMQ queues for one connection; a connection at this mark is treated as gone."""

RECEIVE_HWM = 100
"""Most messages ZeroMQ reads ahead from one connection before the sender has to wait. A
client has a request or two in flight; a flood of large frames waits in the sender's own
memory, not the daemon's (a fuzzing run with 10,000 read ahead per connection took the
daemon to 280 MB)."""


@dataclass
class _Account:
    unread: int = 0
    """Bytes sent since the client was last heard from."""
    held: set[str] = field(default_factory=set)
    """Changed paths held back while ``unread`` is over the limit."""
    held_truncated: bool = False
    held_at: float = 0.0


def changed_messages(paths: set[str], at: float, *, truncated: bool = False) -> list[Changed]:
    """The ``changed`` message(s) for one burst: sorted, capped at ``MAX_CHANGED_PATHS``, split
    into parts that each fit in a message."""
    ordered = sorted(paths)
    truncated = truncated or len(ordered) > MAX_CHANGED_PATHS
    return split_changed(ordered[:MAX_CHANGED_PATHS], at=at, truncated=truncated)


class Outbox:
    """Sends messages on the daemon's ROUTER socket, accounting each connection's unread bytes."""

    def __init__(
        self,
        socket: zmq.Socket[bytes],
        on_unreachable: Callable[[ClientId, str, str], None],
        *,
        max_unread: int = MAX_QUEUED_BYTES_PER_CLIENT,
    ) -> None:
        self._socket = socket
        self._on_unreachable = on_unreachable
        """Called with (identity, message type, reason) when a connection cannot be sent to."""
        self._max_unread = max_unread
        self._accounts: dict[ClientId, _Account] = {}

    def send(self, identity: ClientId, message: Message) -> bool:
        """Send one message; a connection that cannot be sent to is reported as unreachable."""
        return self.send_encoded(identity, message.TYPE, encode(message))

    def send_encoded(self, identity: ClientId, message_type: str, data: bytes) -> bool:
        """Send one message already encoded (``message_type`` names it in the log)."""
        try:
            self._socket.send_multipart([identity, data], zmq.NOBLOCK)
        except zmq.ZMQError as exc:
            # EHOSTUNREACH: the peer is gone (ROUTER_MANDATORY); EAGAIN: it stopped reading.
            self.forget(identity)
            self._on_unreachable(identity, message_type, exc.strerror or str(exc))
            return False
        self._accounts.setdefault(identity, _Account()).unread += len(data)
        return True

    def notify(self, identity: ClientId, paths: set[str], at: float) -> bool:
        """Send a burst of changed paths, or hold it back if the client's account is full.

        Return whether the client was told (held paths count as not told yet).
        """
        account = self._accounts.setdefault(identity, _Account())
        if account.held or account.unread >= self._max_unread:
            self._hold(account, paths, at)
            return False
        parts = changed_messages(paths, at)
        sent = all(self.send(identity, part) for part in parts)
        if account.unread >= self._max_unread:
            log.warning(
                "a client (connection %s) has %d unread bytes; holding its next changes "
                "back until it is heard from",
                identity.hex(),
                account.unread,
            )
        return sent

    def heard_from(self, identity: ClientId) -> None:
        """The client sent something, so it reads again: its account starts afresh."""
        account = self._accounts.get(identity)
        if account is not None:
            account.unread = 0

    def release_held(self, identity: ClientId) -> None:
        """Send what was held back for a client heard from again, as one burst."""
        account = self._accounts.get(identity)
        if account is None or not account.held:
            return
        held, truncated, at = account.held, account.held_truncated, account.held_at
        account.held, account.held_truncated = set(), False
        for part in changed_messages(held, at, truncated=truncated):
            if not self.send(identity, part):
                return

    def forget(self, identity: ClientId) -> None:
        """Drop a connection's account and held paths (it left; it learns of them when back)."""
        self._accounts.pop(identity, None)

    def __len__(self) -> int:
        """How many connections have an account."""
        return len(self._accounts)

    def keep_only(self, identities: Collection[ClientId]) -> None:
        """Drop the accounts of every connection but ``identities`` (the registered clients).

        Every reply opens an account, and a connection that never registered (a tool that
        only asked for the status, a bad peer) is never told it left: without this, each one
        kept its account for the daemon's life. Only notifications, sent to registered
        clients alone, need one.
        """
        for identity in [i for i in self._accounts if i not in identities]:
            del self._accounts[identity]

    def holding(self, identity: ClientId) -> int:
        """How many paths are held back for this connection."""
        account = self._accounts.get(identity)
        return len(account.held) if account is not None else 0

    @staticmethod
    def _hold(account: _Account, paths: set[str], at: float) -> None:
        room = MAX_CHANGED_PATHS + 1 - len(account.held)
        if len(paths) > room:
            account.held.update(sorted(paths)[: max(0, room)])
            account.held_truncated = True
        else:
            account.held.update(paths)
        account.held_at = max(account.held_at, at)
