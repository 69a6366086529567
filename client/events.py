"""Typed events, as :meth:`Client.events() <reloadd.client.Client.events>` yields them.

One frozen record per kind, built from the daemon's flat ``event`` messages (and, at
subscription, from its snapshot of every client: one :class:`ClientJoined` per client,
then one :class:`StateChanged` per client that reported a state). :func:`as_json` gives
the object ``reloadd events --json`` prints: ``event`` (the kind), ``time``, and every
field not left at its default.
"""

from __future__ import annotations

from typing import Any, ClassVar

from reloadd.protocol import ClientInfo, Crash, Event, EventKind, Role, ServerState
from reloadd.protocol.record import Record, as_dict, fields


class ChangedEvent(Record):
    """Files changed and the daemon told these clients (``changed``)."""

    KIND: ClassVar[str] = EventKind.CHANGED.value
    time: float
    paths: tuple[str, ...] = ()
    """The files, at most ``MAX_EVENT_PATHS``."""
    omitted: int = 0
    """How many more files changed than ``paths`` lists."""
    clients: tuple[str, ...] = ()
    """The names of the clients told."""


class SavedEvent(Record):
    """An editor (or ``reloadd changed``) reported saves (``saved``)."""

    KIND: ClassVar[str] = EventKind.SAVED.value
    time: float
    client: str
    """Who reported them."""
    paths: tuple[str, ...] = ()
    omitted: int = 0


class ClientJoined(Record):
    """A dev server or editor connected, or was already connected when this subscription began."""

    KIND: ClassVar[str] = EventKind.CLIENT_JOINED.value
    time: float
    client: str
    pid: int
    role: Role


class ClientLeft(Record):
    """A dev server or editor left (or went silent, or its process is gone)."""

    KIND: ClassVar[str] = EventKind.CLIENT_LEFT.value
    time: float
    client: str
    pid: int
    role: Role


class StateChanged(Record):
    """A dev server reported its state: ``duration_ms`` with ``ready``, ``error`` with ``crashed``."""

    KIND: ClassVar[str] = EventKind.STATE.value
    time: float
    client: str
    pid: int
    role: Role
    state: ServerState
    duration_ms: int | None = None
    """From the change that caused the restart to ``ready``, if one did."""
    error: Crash | None = None


class EventsDropped(Record):
    """This subscriber fell behind: ``dropped`` events were not sent to it."""

    KIND: ClassVar[str] = EventKind.EVENTS_DROPPED.value
    time: float
    dropped: int


class Resubscribed(Record):
    """The connection to the daemon was made again (it restarted): events may have been missed;
    a fresh snapshot of every client follows."""

    KIND: ClassVar[str] = "resubscribed"
    time: float
    daemon_pid: int


DaemonEvent = (
    ChangedEvent
    | SavedEvent
    | ClientJoined
    | ClientLeft
    | StateChanged
    | EventsDropped
    | Resubscribed
)
"""Any event :meth:`Client.events() <reloadd.client.Client.events>` yields."""


def from_message(event: Event) -> DaemonEvent:
    """The typed event for one ``event`` message."""
    kind = event.event
    if kind is EventKind.CHANGED:
        return ChangedEvent(event.time, event.paths, event.omitted, event.clients)
    if kind is EventKind.SAVED:
        return SavedEvent(event.time, event.client, event.paths, event.omitted)
    if kind is EventKind.EVENTS_DROPPED:
        return EventsDropped(event.time, event.dropped)
    pid, role = event.pid or 1, event.role or Role.TOOL
    if kind is EventKind.CLIENT_JOINED:
        return ClientJoined(event.time, event.client, pid, role)
    if kind is EventKind.CLIENT_LEFT:
        return ClientLeft(event.time, event.client, pid, role)
    state = event.state or ServerState.STARTING
    return StateChanged(event.time, event.client, pid, role, state, event.duration_ms, event.error)


def from_snapshot(clients: tuple[ClientInfo, ...]) -> list[DaemonEvent]:
    """The events that bring a new subscriber up to date: one ``client-joined`` per connected
    client but tools, then one ``state`` for each that reported a state."""
    shown = [c for c in clients if c.connected and c.role is not Role.TOOL]
    events: list[DaemonEvent] = [ClientJoined(c.connected_at, c.name, c.pid, c.role) for c in shown]
    for info in shown:
        if info.state is None:
            continue
        ready = info.state is ServerState.READY and info.last_reload is not None
        events.append(
            StateChanged(
                time=info.state_since,
                client=info.name,
                pid=info.pid,
                role=info.role,
                state=info.state,
                duration_ms=info.last_reload.duration_ms if ready and info.last_reload else None,
                error=info.last_error if info.state is ServerState.CRASHED else None,
            )
        )
    return events


def as_json(event: DaemonEvent) -> dict[str, Any]:
    """The ``reloadd events --json`` object: ``event``, ``time``, then the fields not at their
    default (null, "", [], 0), enums as their names."""
    data: dict[str, Any] = {"event": event.KIND}
    plain = as_dict(event)
    for field in fields(event):
        value = plain[field.name]
        if field.name != "time" and value in (None, "", (), [], 0) and value is not False:
            continue
        data[field.name] = _json_value(value)
    return data


def _json_value(value: object) -> object:
    if isinstance(value, (Role, ServerState)):
        return value.value
    if isinstance(value, tuple):
        return [_json_value(item) for item in value]
    if isinstance(value, dict):
        return {key: _json_value(item) for key, item in value.items() if item not in (None, "", 0)}
    return value
