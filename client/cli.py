"""The ``reloadd`` command line: ``serve``, ``start``, ``stop``, ``status``, ``run`` and ``changed``.

``main(argv)`` takes its arguments so tests can call it in-process.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence

from reloadd.client.connection import Client
from reloadd.client.run import add_arguments as add_run_arguments
from reloadd.client.run import options_from_args
from reloadd.client.run import run as run_command
from reloadd.client.spawn import log_tail, spawn_daemon
from reloadd.protocol import DaemonNotRunning, ReloaddError, Role, StatusReply, __version__
from reloadd.protocol.endpoint import endpoint_for, find_project_root
from reloadd.protocol.record import as_dict

EXAMPLES = """\
examples:
  reloadd start                  start the daemon for this project in the background
  reloadd status                 list the dev servers it serves
  reloadd status --json          the same, as one JSON object
  reloadd serve --backend builtin --log-level debug
                                 run the daemon in the foreground on the built-in watcher
  reloadd stop --root ~/src/shop stop the daemon of another project
  reloadd run -- flask --app app run --no-reload
                                 run a dev server, restart it when a file it imported changes
  reloadd changed app/views.py   from an editor after a save: the dev servers are told now,
                                 not when the watcher notices (docs/editors.md)

The project root is --root, else the nearest folder upward holding
.watchmanconfig, .git or pyproject.toml, else the working directory.
"""

STOP_TIMEOUT = 10.0
"""Seconds ``reloadd stop`` waits for the daemon to exit."""

CHANGED_TIMEOUT = 10.0
"""Seconds ``reloadd changed`` waits for the daemon's reply (an editor's hook must not hang)."""


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``reloadd`` command."""
    parser = argparse.ArgumentParser(
        prog="reloadd",
        description="A per-project reload daemon for Python dev servers.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"reloadd {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, help_text: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text, description=help_text)
        sub.add_argument(
            "--root", help="the project root (default: found from the working directory)"
        )
        return sub

    for name, help_text in (
        ("serve", "run the daemon in the foreground"),
        ("start", "start the daemon in the background (no-op if one runs)"),
    ):
        sub = command(name, help_text)
        sub.add_argument(
            "--backend",
            choices=("auto", "watchman", "builtin"),
            help="watch backend (default: $RELOADD_BACKEND, else auto: Watchman if usable)",
        )
        sub.add_argument("--watchman-sock", help="Watchman's socket (default: $WATCHMAN_SOCK)")
        sub.add_argument("--log-level", default="INFO", help="DEBUG, INFO, WARNING or ERROR")
        sub.add_argument(
            "--grace",
            type=float,
            default=5.0,
            help="seconds to keep a departed dev server's registration (default 5)",
        )
    command("stop", "stop the daemon")
    status = command("status", "show the daemon and its clients")
    status.add_argument("--json", action="store_true", help="print one JSON object")
    add_run_arguments(command("run", "run CMD and restart it when one of its files changes"))
    changed = command("changed", "report saved files to the running daemon (for editors)")
    changed.add_argument(
        "paths", nargs="+", metavar="PATH", help="the files saved (relative to the working folder)"
    )
    changed.add_argument("-q", "--quiet", action="store_true", help="print nothing unless it fails")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``reloadd`` command; return its exit status."""
    args = build_parser().parse_args(argv)
    try:
        if args.command == "serve":
            from reloadd.daemon.main import serve  # only this command loads the daemon

            return serve(
                root=args.root,
                backend=args.backend,
                watchman_sock=args.watchman_sock,
                log_level=args.log_level,
                grace=args.grace,
            )
        if args.command == "start":
            return _start(args)
        if args.command == "stop":
            return _stop(args)
        if args.command == "run":
            return run_command(options_from_args(args))
        if args.command == "changed":
            return _changed(args)
        return _status(args)
    except ReloaddError as exc:
        print(f"reloadd: {exc}", file=sys.stderr)
        return 1


def _start(args: argparse.Namespace) -> int:
    root = find_project_root(args.root)
    endpoint = endpoint_for(root)
    try:
        with Client(root, name="reloadd start", role=Role.TOOL, spawn=False) as client:
            print(
                f"reloadd: a daemon already runs for {root} (pid {client.daemon.pid}) at {endpoint.address}"
            )
            return 0
    except ReloaddError:
        pass
    process = spawn_daemon(
        endpoint,
        backend=args.backend,
        watchman_sock=args.watchman_sock,
        log_level=args.log_level,
        grace=args.grace,
    )
    deadline = time.monotonic() + 15.0
    while time.monotonic() < deadline:
        try:
            with Client(
                root, name="reloadd start", role=Role.TOOL, spawn=False, handshake_timeout=0.5
            ) as client:
                print(
                    f"reloadd: started the daemon for {root} (pid {client.daemon.pid}, "
                    f"{client.backend} backend) at {endpoint.address}"
                )
                return 0
        except ReloaddError:
            if process.poll() not in (None, 0):
                break
            time.sleep(0.02)
    print(
        f"reloadd: the daemon for {root} did not start; its log {endpoint.log_path} ends with:\n"
        f"{log_tail(endpoint.log_path)}",
        file=sys.stderr,
    )
    return 1


def _stop(args: argparse.Namespace) -> int:
    with Client(args.root, name="reloadd stop", role=Role.TOOL, spawn=False) as client:
        pid = client.daemon.pid
        client.stop_daemon()
    socket_path = client.endpoint.socket_path
    deadline = time.monotonic() + STOP_TIMEOUT
    while socket_path.exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    if socket_path.exists():
        print(
            f"reloadd: the daemon (pid {pid}) did not stop within {STOP_TIMEOUT:.0f} s",
            file=sys.stderr,
        )
        return 1
    print(f"reloadd: stopped the daemon for {client.root} (pid {pid})")
    return 0


def _changed(args: argparse.Namespace) -> int:
    root = find_project_root(args.root)
    try:
        client = Client(
            root,
            name="reloadd changed",
            role=Role.EDITOR,
            spawn=False,
            request_timeout=CHANGED_TIMEOUT,
        )
    except DaemonNotRunning:
        print(
            f"reloadd: no daemon runs for {root}, so there is no one to tell; start your dev "
            f"server (or 'reloadd start --root {root}') first, or pass --root if the project "
            "is elsewhere",
            file=sys.stderr,
        )
        return 1
    with client:
        noted = client.saved(args.paths)
    if not args.quiet:
        print(f"reloadd: {_told(noted.notified, noted.recorded, len(args.paths))}")
    return 0


def _told(notified: int, recorded: int, reported: int) -> str:
    files = "file" if reported == 1 else "files"
    if notified:
        servers = "dev server" if notified == 1 else "dev servers"
        return f"told {notified} {servers} of {reported} saved {files}"
    if not recorded:
        return f"told no dev server: the daemon's watcher had already reported the saved {files}"
    return f"told no dev server: none registered the saved {files}"


def _status(args: argparse.Namespace) -> int:
    with Client(args.root, name="reloadd status", role=Role.TOOL, spawn=False) as client:
        status = client.status()
    if args.json:
        print(json.dumps(status_as_json(status), indent=2))
    else:
        print(format_status(status))
    return 0


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
    uptime = time.time() - status.started_at
    lines = [
        f"root      {status.root}",
        f"endpoint  {status.endpoint}",
        f"daemon    pid {status.pid}, {status.backend} backend, protocol {status.protocol}, up {_duration(uptime)}",
        f"watching  {', '.join(status.watched_roots) or '(nothing yet)'}",
        "",
    ]
    if not status.clients:
        lines.append("no clients")
        return "\n".join(lines)
    rows = [("NAME", "PID", "ROLE", "FILES", "GLOBS", "STATE")]
    now = time.time()
    for client in status.clients:
        rows.append(
            (
                client.name,
                str(client.pid),
                client.role.value,
                str(client.files),
                str(client.globs),
                f"up {_duration(now - client.connected_at)}" if client.connected else "left (kept)",
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        lines.append(
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        )
    return "\n".join(lines)


def _duration(seconds: float) -> str:
    seconds = max(0, int(seconds))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


if __name__ == "__main__":
    sys.exit(main())
