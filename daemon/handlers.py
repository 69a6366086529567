"""The dispatch table: each message type a client may send, and the handler that answers it.

Each handler lives next to the state it changes; a type not in this table (one
only the daemon sends) is answered ``unexpected``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from reloadd.daemon.context import DaemonContext
from reloadd.daemon.lifecycle import handle_state
from reloadd.daemon.notifier import handle_saved
from reloadd.daemon.registration import handle_unwatch, handle_watch
from reloadd.daemon.registry import ClientId
from reloadd.daemon.reload import handle_reload
from reloadd.daemon.sessions import handle_bye, handle_hello, handle_ping, handle_stop
from reloadd.daemon.status import handle_status
from reloadd.daemon.subscriptions import handle_events_read, handle_subscribe
from reloadd.protocol import (
    Bye,
    EventsRead,
    Hello,
    Message,
    Ping,
    Reload,
    Saved,
    StateReport,
    Status,
    Stop,
    Subscribe,
    Unwatch,
    Watch,
)

AnyHandler = Callable[[DaemonContext, ClientId, Any], list[Message]]
"""A handler, typed loosely so that one table holds them all (each takes its own type)."""

HANDLERS: Mapping[type[Message], AnyHandler] = {
    Hello: handle_hello,
    Ping: handle_ping,
    Bye: handle_bye,
    Status: handle_status,
    Watch: handle_watch,
    Unwatch: handle_unwatch,
    Saved: handle_saved,
    StateReport: handle_state,
    Subscribe: handle_subscribe,
    EventsRead: handle_events_read,
    Reload: handle_reload,
    Stop: handle_stop,
}
"""Message type → handler."""
