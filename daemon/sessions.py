"""``hello``, ``ping`` and ``bye``: a client's connection to the daemon, from handshake to departure.

A client that leaves (``bye``, silence, its process gone, a socket that cannot be
sent to) keeps its registration for the grace period, so that a restarting dev
server under the same name takes it back (:meth:`Registry.adopt`); a one-shot
tool is forgotten at once.
"""

from __future__ import annotations

import logging
import os
import time

from reloadd.daemon.context import HEARTBEAT, DaemonContext, label
from reloadd.daemon.events import client_event
from reloadd.daemon.registry import ClientId
from reloadd.protocol import (
    PROTOCOL_VERSION,
    Bye,
    Error,
    ErrorCode,
    EventKind,
    Hello,
    Message,
    Ping,
    Pong,
    Role,
    Stop,
    Stopping,
    Welcome,
)

log = logging.getLogger("reloadd.daemon")


def handle_hello(ctx: DaemonContext, identity: ClientId, hello: Hello) -> list[Message]:
    """Register the client, or give a returning one its registration back; say who we are."""
    if hello.protocol != PROTOCOL_VERSION:
        return [
            Error(
                re=hello.id,
                code=ErrorCode.VERSION_MISMATCH,
                message=(
                    f"the client speaks protocol {hello.protocol} but this daemon "
                    f"(pid {os.getpid()}) speaks {PROTOCOL_VERSION}; install the same reloadd "
                    "version for both, then run 'reloadd stop' so the daemon restarts"
                ),
            )
        ]
    now = time.time()
    record = ctx.registry.adopt(identity, hello, now=now)
    taken_back = record.digest if record is not None else ""
    if record is not None:
        log.info(
            "%s is back; it keeps its registration of %d files", label(record), len(record.files)
        )
    else:
        record = ctx.registry.add(identity, hello, now=now)
        log.info("%s connected", label(record))
    if record.role is not Role.TOOL:
        ctx.events.emit(client_event(EventKind.CLIENT_JOINED, record, now))
    return [
        Welcome(
            re=hello.id,
            protocol=PROTOCOL_VERSION,
            instance=ctx.instance,
            root=str(ctx.endpoint.root),
            backend=ctx.backend.name,
            pid=os.getpid(),
            heartbeat=HEARTBEAT,
            registration=taken_back,
        )
    ]


def handle_ping(ctx: DaemonContext, identity: ClientId, ping: Ping) -> list[Message]:
    """A heartbeat: say whether this connection is still registered."""
    record = ctx.registry.get(identity)
    registered = record is not None and record.connected
    return [Pong(re=ping.id, instance=ctx.instance, registered=registered)]


def handle_bye(ctx: DaemonContext, identity: ClientId, bye: Bye) -> list[Message]:
    """The client is closing (no reply)."""
    ctx.depart(identity, "said goodbye")
    return []


def handle_stop(ctx: DaemonContext, identity: ClientId, stop: Stop) -> list[Message]:
    """Shut the daemon down once this reply is sent."""
    log.info("stop requested by %s", ctx.describe(identity))
    ctx.stopping = True
    return [Stopping(re=stop.id)]
