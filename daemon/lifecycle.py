"""``state``: what each dev server reports of its life (starting, ready, crashed, stopped)."""

from __future__ import annotations

import time

from reloadd.daemon.context import DaemonContext
from reloadd.daemon.registry import ClientId
from reloadd.protocol import Message, StateReport


def handle_state(ctx: DaemonContext, identity: ClientId, report: StateReport) -> list[Message]:
    """Record the client's new state on its registration (which outlives its restarts)."""
    record = ctx.registered(identity, report)
    record.state = report.state
    record.state_since = time.time()
    record.error = report.error
    return []
