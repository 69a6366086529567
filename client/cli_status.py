"""``reloadd status`` (one daemon and its clients) and ``reloadd list`` (every daemon of yours)."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from reloadd.client.cli_events import crash_text, relative
from reloadd.client.cli_root import project_root
from reloadd.client.connection import Client
from reloadd.client.daemons import FoundDaemon, find_daemons
from reloadd.protocol import DaemonNotRunning, ReloadInfo, Role, StatusReply
from reloadd.protocol.record import as_dict

WATCH_REFRESH = 1.0
"""Seconds between two redraws of ``status --watch`` when nothing happens (times move on)."""

CLEAR_SCREEN = "\x1b[H\x1b[2J"


def status(args: argparse.Namespace) -> int:
    """``reloadd status [--json | --watch]``."""
    if getattr(args, "watch", False):
        return watch_status(args)
    with Client(project_root(args.root), name="reloadd status", role=Role.TOOL, spawn=False) as c:
        reply = c.status()
    if args.json:
        print(json.dumps(status_as_json(reply), indent=2))
    else:
        print(format_status(reply))
    return 0


def watch_status(args: argparse.Namespace, out: TextIO | None = None) -> int:
    """``reloadd status --watch``: redraw the table at each event (and every second) until Ctrl-C."""
    out = sys.stdout if out is None else out
    root = project_root(args.root)
    try:
        with Client(root, name="reloadd status", role=Role.TOOL, spawn=False) as client:
            while True:
                text = format_status(client.status())
                note = "(redrawn as things happen; Ctrl-C to stop)"
                print(f"{CLEAR_SCREEN}{text}\n\n{note}", file=out, flush=True)
                for _ in client.events(timeout=WATCH_REFRESH):
                    for _ in client.events(timeout=0):
                        pass  # a burst is one redraw
                    break
    except KeyboardInterrupt:
        return 0
    except DaemonNotRunning as exc:
        print(f"reloadd: {exc}", file=sys.stderr)
        return 1


def status_as_json(status: StatusReply) -> dict[str, object]:
    """The ``status --json`` object: the status reply with plain JSON values."""
    data = as_dict(status)
    data.pop("re")
    data["protocol_version"] = data.pop("protocol")
    for client in data["clients"]:
        client["role"] = client["role"].value
    return data


def format_status(status: StatusReply) -> str:
    """A readable table of the daemon and its clients."""
    now = time.time()
    idle = f", idle for {duration(now - status.idle_since)}" if status.idle_since else ""
    lines = [
        f"root      {status.root}",
        f"endpoint  {status.endpoint}",
        f"daemon    pid {status.pid}, {status.backend} backend, protocol {status.protocol}, "
        f"up {duration(now - status.started_at)}{idle}",
        f"watching  {', '.join(status.watched_roots) or '(nothing yet)'}",
        "",
    ]
    if not status.clients:
        lines.append("no clients")
        return "\n".join(lines)
    root = Path(status.root)
    rows = [("NAME", "PID", "ROLE", "FILES", "GLOBS", "STATE", "LAST RELOAD")]
    errors: list[str] = []
    for client in status.clients:
        connection = (
            f"up {duration(now - client.connected_at)}" if client.connected else "left (kept)"
        )
        state = f"{client.state.value}, {connection}" if client.state else connection
        rows.append(
            (
                client.name,
                str(client.pid),
                client.role.value,
                str(client.files),
                str(client.globs),
                state,
                last_reload_text(client.last_reload, root),
            )
        )
        if client.last_error is not None:
            errors.append(
                f"{client.name}: last error at {_clock(client.last_error_at)}: "
                f"{crash_text(client.last_error, root)}"
            )
    return "\n".join([*lines, *_table(rows), *([""] if errors else []), *errors])


def last_reload_text(reload: ReloadInfo | None, root: Path) -> str:
    """``12:03:04 ready in 430 ms (app/views.py)``, or ``-`` before any reload."""
    if reload is None:
        return "-"
    what = ", ".join(relative(path, root) for path in reload.paths[:2])
    more = len(reload.paths) - 2 + reload.omitted if len(reload.paths) > 2 else reload.omitted
    if more:
        what += f" and {more} more"
    return f"{_clock(reload.at)} ready in {reload.duration_ms} ms ({what or 'reload asked for'})"


def _clock(at: float) -> str:
    return time.strftime("%H:%M:%S", time.localtime(at))


def list_daemons(args: argparse.Namespace) -> int:
    """``reloadd list [--json]``: every daemon of this user; stale sockets are removed."""
    found = find_daemons()
    if args.json:
        print(json.dumps([daemon_as_json(daemon) for daemon in found], indent=2))
    else:
        print(format_list(found))
    return 0


def daemon_as_json(daemon: FoundDaemon) -> dict[str, object]:
    """One item of ``list --json``: ``state`` is ``running``, ``not answering`` or ``stale``."""
    if daemon.status is None:
        return {
            "socket": str(daemon.socket_path),
            "state": "not answering" if daemon.lock_holder is not None else "stale",
            "pid": daemon.lock_holder,
            "removed": daemon.removed,
        }
    servers, kept = _servers(daemon.status)
    return {
        "socket": str(daemon.socket_path),
        "state": "running",
        "root": daemon.status.root,
        "pid": daemon.status.pid,
        "backend": daemon.status.backend,
        "clients": servers,
        "kept": kept,
        "started_at": daemon.status.started_at,
        "idle_since": daemon.status.idle_since or None,
    }


def format_list(found: Sequence[FoundDaemon]) -> str:
    """A table of the daemons, then one line per socket that answered nobody."""
    if not found:
        return "no daemon of yours runs"
    now = time.time()
    rows = [("ROOT", "PID", "BACKEND", "CLIENTS", "IDLE FOR", "UP")]
    notes: list[str] = []
    for daemon in found:
        reply = daemon.status
        if reply is None:
            notes.append(_silent(daemon))
            continue
        servers, kept = _servers(reply)
        rows.append(
            (
                reply.root,
                str(reply.pid),
                reply.backend,
                f"{servers} (+{kept} kept)" if kept else str(servers),
                duration(now - reply.idle_since) if reply.idle_since else "-",
                duration(now - reply.started_at),
            )
        )
    lines = _table(rows) if len(rows) > 1 else []
    return "\n".join([*lines, *notes])


def _servers(status: StatusReply) -> tuple[int, int]:
    """How many clients other than tools are connected, and how many are kept (they left)."""
    others = [client for client in status.clients if client.role is not Role.TOOL]
    connected = sum(client.connected for client in others)
    return connected, len(others) - connected


def _silent(daemon: FoundDaemon) -> str:
    if daemon.lock_holder is not None:
        return (
            f"not answering: {daemon.socket_path} (pid {daemon.lock_holder} holds its lock; "
            f"'kill {daemon.lock_holder}' stops it)"
        )
    if daemon.removed:
        return f"stale, removed: {daemon.socket_path} (its daemon had died)"
    return f"stale: {daemon.socket_path} (its daemon died; remove the file)"


def _table(rows: Sequence[tuple[str, ...]]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]


def duration(seconds: float) -> str:
    """``seconds`` as a person reads it: ``42s``, ``5m07s``, ``3h12m``."""
    seconds = max(0, int(seconds))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
