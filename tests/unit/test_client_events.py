"""Typed events: built from the daemon's messages and snapshot, as JSON, as readable lines."""

from __future__ import annotations

from pathlib import Path

from reloadd.client.cli_events import describe
from reloadd.client.events import (
    ChangedEvent,
    ClientJoined,
    EventsDropped,
    Resubscribed,
    StateChanged,
    as_json,
    from_message,
    from_snapshot,
)
from reloadd.protocol import ClientInfo, Crash, Event, EventKind, ReloadInfo, Role, ServerState

ROOT = Path("/p")


def test_json_leaves_out_defaults_and_type() -> None:
    crash = Crash("SyntaxError", "invalid syntax", "/p/app/views.py", 12)
    event = Event(
        event=EventKind.STATE,
        time=1733400000.1,
        client="web",
        pid=42,
        role=Role.SERVER,
        state=ServerState.CRASHED,
        error=crash,
        seq=9,
    )
    assert as_json(from_message(event)) == {
        "event": "state",
        "time": 1733400000.1,
        "client": "web",
        "pid": 42,
        "role": "server",
        "state": "crashed",
        "error": {
            "type": "SyntaxError",
            "message": "invalid syntax",
            "file": "/p/app/views.py",
            "line": 12,
        },
    }
    changed = Event(event=EventKind.CHANGED, time=2.0, paths=("/p/a.py",), clients=("web",))
    assert as_json(from_message(changed)) == {
        "event": "changed",
        "time": 2.0,
        "paths": ["/p/a.py"],
        "clients": ["web"],
    }
    unplaced = Crash("RuntimeError", "boom")
    assert as_json(StateChanged(3.0, "w", 1, Role.SERVER, ServerState.CRASHED, error=unplaced))[
        "error"
    ] == {"type": "RuntimeError", "message": "boom"}


def test_the_snapshot_is_joins_then_states() -> None:
    reload = ReloadInfo(at=5.0, duration_ms=430, paths=("/p/a.py",))
    crash = Crash("NameError", "x")
    clients = (
        ClientInfo(
            "web",
            42,
            Role.SERVER,
            10,
            0,
            1.0,
            state=ServerState.READY,
            state_since=6.0,
            last_reload=reload,
        ),
        ClientInfo(
            "job",
            43,
            Role.SERVER,
            10,
            0,
            2.0,
            state=ServerState.CRASHED,
            state_since=7.0,
            last_error=crash,
        ),
        ClientInfo("vim", 44, Role.EDITOR, 0, 0, 3.0),
        ClientInfo("status", 45, Role.TOOL, 0, 0, 4.0),
        ClientInfo("old", 46, Role.SERVER, 0, 0, 0.5, connected=False),
    )
    assert from_snapshot(clients) == [
        ClientJoined(1.0, "web", 42, Role.SERVER),
        ClientJoined(2.0, "job", 43, Role.SERVER),
        ClientJoined(3.0, "vim", 44, Role.EDITOR),
        StateChanged(6.0, "web", 42, Role.SERVER, ServerState.READY, duration_ms=430),
        StateChanged(7.0, "job", 43, Role.SERVER, ServerState.CRASHED, error=crash),
    ]


def test_readable_lines_use_paths_relative_to_the_root() -> None:
    def line(event: object) -> str:
        return describe(event, ROOT).split(" ", 1)[1]  # type: ignore[arg-type]

    crash = Crash("SyntaxError", "invalid syntax\nmore", "/p/app/views.py", 12)
    assert line(StateChanged(0, "web", 1, Role.SERVER, ServerState.CRASHED, error=crash)) == (
        "web crashed: SyntaxError at app/views.py:12: invalid syntax"
    )
    assert line(StateChanged(0, "web", 1, Role.SERVER, ServerState.READY, 430)) == (
        "web ready in 430 ms"
    )
    assert line(StateChanged(0, "web", 1, Role.SERVER, ServerState.READY)) == "web ready"
    paths = ("/p/a.py", "/p/b.py", "/p/c.py", "/p/d.py")
    assert line(ChangedEvent(0, paths, 5, ("web", "job"))) == (
        "changed a.py, b.py, c.py and 6 more (told web, job)"
    )
    assert line(EventsDropped(0, 7)) == "missed 7 events (this reader fell behind)"
    assert line(Resubscribed(0, 99)).startswith("reconnected to the daemon (pid 99)")
