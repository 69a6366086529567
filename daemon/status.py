"""``status``: the daemon and its clients, as ``reloadd status`` shows them."""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterable

from reloadd.daemon.context import DaemonContext
from reloadd.daemon.registry import ClientId, ClientRecord
from reloadd.protocol import PROTOCOL_VERSION, ClientInfo, Message, Status, StatusReply


def handle_status(ctx: DaemonContext, identity: ClientId, status: Status) -> list[Message]:
    """Describe the daemon and every client but the one asking."""
    ctx.idle_for()  # brings idle_since up to date
    return [
        StatusReply(
            re=status.id,
            root=str(ctx.endpoint.root),
            endpoint=ctx.endpoint.address,
            pid=os.getpid(),
            backend=ctx.backend.name,
            protocol=PROTOCOL_VERSION,
            instance=ctx.instance,
            started_at=ctx.started_at,
            idle_since=ctx.idle_since,
            watched_roots=tuple(sorted(map(str, ctx.roots.current))),
            clients=client_infos(ctx, but=identity),
        )
    ]


def client_infos(ctx: DaemonContext, *, but: ClientId) -> tuple[ClientInfo, ...]:
    """Every client but the connection ``but``, as ``status`` and ``subscribed`` describe them."""
    listed = [record for record in ctx.registry if record.identity != but]
    names = display_names(listed)
    return tuple(
        ClientInfo(
            name=name,
            pid=record.pid,
            role=record.role,
            files=len(record.files),
            globs=len(record.globs),
            connected_at=record.connected_at,
            connected=record.connected,
            state=record.state,
            state_since=record.state_since,
            last_reload=record.last_reload,
            last_error=record.last_error,
            last_error_at=record.last_error_at,
        )
        for record, name in zip(listed, names, strict=True)
    )


def display_names(records: Iterable[ClientRecord]) -> list[str]:
    """Each client's name, made distinct where two share one: the pid added, then a counter."""
    records = list(records)
    shared = Counter(record.name for record in records)
    names = [
        f"{record.name} (pid {record.pid})" if shared[record.name] > 1 else record.name
        for record in records
    ]
    seen: Counter[str] = Counter()
    distinct: list[str] = []
    for name in names:
        seen[name] += 1
        distinct.append(name if seen[name] == 1 else f"{name} #{seen[name]}")
    return distinct
