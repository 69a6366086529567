"""A client keeps following a daemon that sends what only a newer version knows.

A scripted daemon (real ROUTER socket) answers ``subscribe``, then sends an ``event`` of a
kind this client does not know and a message type it does not know, then a known event:
the client skips the first two, yields the third, and stays connected.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

import msgpack

from reloadd.client import Client, Role, State
from reloadd.client.events import ChangedEvent
from reloadd.protocol import Event, EventKind, Hello, Message, Subscribe, Subscribed
from tests.integration.scripted_daemon import answer_pings, scripted_daemon, welcome


def test_unknown_events_and_message_types_are_skipped(project: Path) -> None:
    def script(message: Message) -> Sequence[Message | float | bytes]:
        if isinstance(message, Hello):
            return [welcome(message, project)]
        if isinstance(message, Subscribe):
            return [
                Subscribed(re=message.id, clients=()),
                msgpack.packb({"type": "event", "event": "browser-reloaded", "time": 1.0}),
                msgpack.packb({"type": "progress", "done": 3}),
                Event(event=EventKind.CHANGED, time=2.0, paths=(str(project / "a.py"),)),
            ]
        return answer_pings(message)

    with scripted_daemon(project, script), Client(project, role=Role.TOOL, spawn=False) as tool:
        seen: list[object] = []
        deadline = time.monotonic() + 5.0
        for event in tool.events(timeout=2.0):
            seen.append(event)
            if isinstance(event, ChangedEvent) or time.monotonic() > deadline:
                break
        assert seen == [ChangedEvent(time=2.0, paths=(str(project / "a.py"),))]
        assert tool.state is State.REGISTERED
