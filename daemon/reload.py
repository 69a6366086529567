"""``reload``: restart one dev server (or every one) now, though no file changed."""

from __future__ import annotations

import logging
import time

from reloadd.daemon.context import DaemonContext, label
from reloadd.daemon.lifecycle import note_cause
from reloadd.daemon.registry import ClientId
from reloadd.daemon.status import display_names
from reloadd.protocol import (
    ErrorCode,
    Message,
    ProtocolError,
    Reload,
    Reloading,
    Restart,
    Role,
)

log = logging.getLogger("reloadd.daemon")

_NAMES_IN_ERROR = 20
"""Most dev-server names an unknown-name error lists."""


def handle_reload(ctx: DaemonContext, identity: ClientId, reload: Reload) -> list[Message]:
    """Send ``restart`` to the dev server named (as ``status`` names it), or to every one."""
    asker = ctx.registered(identity, reload)
    servers = [r for r in ctx.registry if r.role is Role.SERVER and r.connected]
    names = display_names(servers)
    if reload.name:
        chosen = [
            (record, name)
            for record, name in zip(servers, names, strict=True)
            if reload.name in (name, record.name)
        ]
        if not chosen:
            raise ProtocolError(_unknown(reload.name, names), code=ErrorCode.BAD_FIELD)
    else:
        chosen = list(zip(servers, names, strict=True))
    now = time.time()
    restarted: list[str] = []
    for record, name in chosen:
        if ctx.outbox.send(record.identity, Restart(by=asker.name)):
            note_cause(record, now)
            restarted.append(name)
    log.info("%s asked to restart %s", label(asker), ", ".join(restarted) or "no dev server")
    return [Reloading(re=reload.id, clients=tuple(restarted))]


def _unknown(name: str, names: list[str]) -> str:
    shown = name if len(name) <= 60 else name[:59] + "…"
    if not names:
        return f"no dev server named {shown!r}: no dev server is connected"
    listed = ", ".join(names[:_NAMES_IN_ERROR])
    more = f" and {len(names) - _NAMES_IN_ERROR} more" if len(names) > _NAMES_IN_ERROR else ""
    return f"no dev server named {shown!r}; the connected ones are: {listed}{more}"
