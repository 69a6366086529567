"""What every message handler is given: the daemon's state objects, each the one owner of its fact.

Handlers run on the main thread only (see :mod:`reloadd.daemon`), so they read
and change these objects without locks.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from reloadd.daemon.backends.base import Backend
from reloadd.daemon.events import EventBus, client_event
from reloadd.daemon.history import ChangeHistory
from reloadd.daemon.log_limit import LimitedLog
from reloadd.daemon.outbox import Outbox
from reloadd.daemon.realpaths import RealPaths
from reloadd.daemon.registry import ClientId, ClientRecord, Registry
from reloadd.daemon.root_watcher import RootWatcher
from reloadd.daemon.watched_roots import WatchedRoots
from reloadd.protocol import ErrorCode, EventKind, Message, ProtocolError, Role
from reloadd.protocol.defaults import DEFAULT_HEARTBEAT
from reloadd.protocol.endpoint import Endpoint

log = logging.getLogger("reloadd.daemon")

HEARTBEAT = DEFAULT_HEARTBEAT
"""Seconds between a client's pings, as the daemon asks in ``welcome``."""

SILENCE_LIMIT = 4 * HEARTBEAT
"""A client silent for longer is treated as gone (its registration is kept for the grace period)."""


@dataclass
class DaemonContext:
    """The daemon's state, as handlers see it."""

    endpoint: Endpoint
    instance: str
    """A fresh random id per daemon run."""
    grace: float
    backend: Backend
    registry: Registry
    """The one owner of clients and their registrations."""
    history: ChangeHistory
    """The one owner of what changed and when (and of file states)."""
    roots: WatchedRoots
    """The one owner of which roots registrations may rely on."""
    outbox: Outbox
    events: EventBus
    """The one owner of subscribers and what each was sent."""
    root_watcher: RootWatcher
    realpath: RealPaths
    bad_input: LimitedLog
    started_at: float = field(default_factory=time.time)
    idle_since: float = field(default_factory=time.time)
    """Since when the daemon has had no client but one-shot tools, connected or kept for its
    grace period (Unix time, as ``status`` reports it); 0.0 while it has one."""
    _idle_clock: float = field(default_factory=time.monotonic)
    """The same moment on the monotonic clock, which the idle exit is timed by."""
    stopping: bool = False
    """Set to end the loop (a ``stop`` request, SIGTERM, SIGINT, the idle timeout)."""

    def idle_for(self) -> float:
        """Seconds the daemon has had no client but tools (0.0 while it has one); updates
        :attr:`idle_since`."""
        if any(record.role is not Role.TOOL for record in self.registry):
            self.idle_since = 0.0
            return 0.0
        if not self.idle_since:
            self.idle_since, self._idle_clock = time.time(), time.monotonic()
        return time.monotonic() - self._idle_clock

    def describe(self, identity: ClientId) -> str:
        """How a connection is named in the log."""
        record = self.registry.get(identity)
        return label(record) if record else f"unregistered connection {identity.hex()}"

    def registered(self, identity: ClientId, message: Message) -> ClientRecord:
        """The connected client sending ``message``; ``not_registered`` if it said no hello."""
        record = self.registry.get(identity)
        if record is None or not record.connected:
            raise ProtocolError(
                f"send hello before {message.TYPE}: this connection is not registered "
                "(the daemon may have restarted)",
                code=ErrorCode.NOT_REGISTERED,
            )
        return record

    def depart(self, identity: ClientId, reason: str) -> ClientRecord | None:
        """A client left (``reason`` completes "NAME ..."): keep its registration for the grace
        period, or forget it at once if it is a one-shot tool."""
        self.outbox.forget(identity)
        self.events.unsubscribe(identity)
        before = self.registry.get(identity)
        was_connected = before is not None and before.connected
        record = self.registry.depart(identity, until=time.time() + self.grace)
        if record is None or not was_connected:
            return record  # already departed: said once
        if record.role is not Role.TOOL:
            self.events.emit(client_event(EventKind.CLIENT_LEFT, record))
        if self.registry.get(identity) is None:  # a one-shot tool: forgotten at once
            log.info("%s %s", label(record), reason)
        else:
            log.info("%s %s; keeping its registration for %g s", label(record), reason, self.grace)
        return record


M = TypeVar("M", bound=Message)

Handler = Callable[[DaemonContext, ClientId, M], list[Message]]
"""Answers one message from one connection: the replies to send it, in order."""


def label(record: ClientRecord) -> str:
    """How a client is named in the log."""
    return f"{record.name} (pid {record.pid})"
