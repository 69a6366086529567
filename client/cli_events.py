"""``reloadd events [--json]``: follow the daemon's event stream until interrupted.

Each event is one line, flushed at once (editors read it through a pipe): with
``--json`` one JSON object (:func:`reloadd.client.events.as_json`), otherwise one
readable line with paths relative to the project root. Ctrl-C ends it quietly with
status 0. If the daemon stops, the command reconnects when one is back at once (a
``resubscribed`` event, then the fresh snapshot); if none is, it says so on stderr and
exits 1 (run it in a loop, or from the editor, to follow a daemon across restarts).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import TextIO

from reloadd.client.cli_root import project_root
from reloadd.client.connection import Client
from reloadd.client.events import (
    ChangedEvent,
    ClientJoined,
    ClientLeft,
    DaemonEvent,
    EventsDropped,
    Resubscribed,
    SavedEvent,
    StateChanged,
    as_json,
)
from reloadd.protocol import Crash, DaemonNotRunning, Role, ServerState


def events(args: argparse.Namespace, out: TextIO | None = None) -> int:
    """``reloadd events [--json]``."""
    out = sys.stdout if out is None else out
    root = project_root(args.root)
    try:
        client = Client(root, name="reloadd events", role=Role.TOOL, spawn=False)
    except DaemonNotRunning:
        print(
            f"reloadd: no daemon runs for {root}; start your dev server (or 'reloadd start "
            f"--root {root}') first",
            file=sys.stderr,
        )
        return 1
    try:
        with client:
            for event in client.events():
                line = json.dumps(as_json(event)) if args.json else describe(event, root)
                print(line, file=out, flush=True)
    except KeyboardInterrupt:
        return 0
    except DaemonNotRunning as exc:
        print(f"reloadd: the daemon for {root} stopped ({exc})", file=sys.stderr)
        return 1
    except BrokenPipeError:  # the reader went away (an editor closed the pipe): nothing to say
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    return 0


def describe(event: DaemonEvent, root: Path) -> str:
    """One readable line, e.g. ``12:03:04 web ready in 430 ms``."""
    clock = time.strftime("%H:%M:%S", time.localtime(event.time))
    return f"{clock} {_what(event, root)}"


def _what(event: DaemonEvent, root: Path) -> str:
    if isinstance(event, ChangedEvent):
        told = ", ".join(event.clients) or "no one"
        return f"changed {_paths(event.paths, event.omitted, root)} (told {told})"
    if isinstance(event, SavedEvent):
        return f"{event.client} saved {_paths(event.paths, event.omitted, root)}"
    if isinstance(event, ClientJoined):
        return f"{event.client} joined ({event.role.value}, pid {event.pid})"
    if isinstance(event, ClientLeft):
        return f"{event.client} left ({event.role.value}, pid {event.pid})"
    if isinstance(event, StateChanged):
        return f"{event.client} {state_text(event.state, event.duration_ms, event.error, root)}"
    if isinstance(event, EventsDropped):
        return f"missed {event.dropped} events (this reader fell behind)"
    assert isinstance(event, Resubscribed)
    return f"reconnected to the daemon (pid {event.daemon_pid}); events may have been missed"


def state_text(state: ServerState, duration_ms: int | None, error: Crash | None, root: Path) -> str:
    """``ready in 430 ms``, ``crashed: SyntaxError at app/views.py:12: invalid syntax``..."""
    if state is ServerState.READY and duration_ms is not None:
        return f"ready in {duration_ms} ms"
    if state is ServerState.CRASHED and error is not None:
        return f"crashed: {crash_text(error, root)}"
    return state.value


def crash_text(error: Crash, root: Path) -> str:
    """``SyntaxError at app/views.py:12: invalid syntax`` (the place left out when unknown)."""
    where = ""
    if error.file:
        where = f" at {relative(error.file, root)}" + (f":{error.line}" if error.line else "")
    first = error.message.splitlines()[0] if error.message else ""
    return f"{error.type}{where}: {first}" if first else f"{error.type}{where}"


def relative(path: str, root: Path) -> str:
    """``path`` relative to the project root when inside it, else as given."""
    try:
        return str(Path(path).relative_to(root))
    except ValueError:
        return path


def _paths(paths: tuple[str, ...], omitted: int, root: Path) -> str:
    shown = ", ".join(relative(path, root) for path in paths[:3])
    more = len(paths) - 3 + omitted if len(paths) > 3 else omitted
    return f"{shown} and {more} more" if more else shown
