"""``subscribe`` and ``events_read``: a connection follows the event stream (see :mod:`reloadd.daemon.events`)."""

from __future__ import annotations

import logging

from reloadd.daemon.context import DaemonContext, label
from reloadd.daemon.registry import ClientId
from reloadd.daemon.status import client_infos
from reloadd.protocol import EventsRead, Message, Subscribe, Subscribed

log = logging.getLogger("reloadd.daemon")


def handle_subscribe(ctx: DaemonContext, identity: ClientId, subscribe: Subscribe) -> list[Message]:
    """Subscribe the connection (again: no change) and describe every other client as it stands."""
    record = ctx.registered(identity, subscribe)
    if identity not in ctx.events:
        log.info("%s subscribed to events", label(record))
    ctx.events.subscribe(identity)
    return [Subscribed(re=subscribe.id, clients=client_infos(ctx, but=identity))]


def handle_events_read(ctx: DaemonContext, identity: ClientId, read: EventsRead) -> list[Message]:
    """The subscriber read its events up to ``seq`` (no reply; a non-subscriber's is ignored)."""
    ctx.registered(identity, read)
    ctx.events.read(identity, read.seq)
    return []
