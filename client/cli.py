"""The ``reloadd`` command line: ``serve``, ``start``, ``stop``, ``status``, ``list``, ``run``, ``changed``,
``events``, ``reload``.

``main(argv)`` takes its arguments so tests can call it in-process. This module
holds the parser and the dispatch; the commands live in ``cli_daemon`` (serve,
start, stop), ``cli_status`` (status, list) and ``cli_changed``.

Every failure is one line on stderr, ``reloadd: <what went wrong and what to do>``,
and exit status 1; a mistake on the command line prints the usage of the command
it was made in, and exit status 2.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from reloadd.client.cli_changed import changed
from reloadd.client.cli_daemon import serve, start, stop
from reloadd.client.cli_events import events
from reloadd.client.cli_reload import reload
from reloadd.client.cli_root import project_root
from reloadd.client.cli_status import list_daemons, status
from reloadd.client.idle_exit import (
    BACKGROUND_IDLE_EXIT,
    DurationError,
    format_duration,
    parse_duration,
)
from reloadd.client.idle_exit import ENV_VAR as IDLE_EXIT_ENV
from reloadd.client.run import add_arguments as add_run_arguments
from reloadd.client.run import options_from_args
from reloadd.client.run import run as run_command
from reloadd.protocol import ReloaddError, __version__
from reloadd.protocol.defaults import DEFAULT_GRACE, DEFAULT_LOG_LEVEL

EXAMPLES = """\
examples:
  reloadd start                  start the daemon for this project in the background
  reloadd status                 list the dev servers it serves
  reloadd status --json          the same, as one JSON object
  reloadd list                   every daemon of yours: root, pid, clients, idle for
  reloadd stop --all             stop them all
  reloadd serve --backend builtin --log-level debug
                                 run the daemon in the foreground on the built-in watcher
  reloadd stop --root ~/src/shop stop the daemon of another project
  reloadd run -- flask --app app run --no-reload
                                 run a dev server, restart it when a file it imported changes
  reloadd events                 follow the dev servers: changes, restarts, crashes (--json for tools)
  reloadd reload web             restart the dev server "web" now
  reloadd changed app/views.py   from an editor after a save: the dev servers are told now,
                                 not when the watcher notices (docs/editors.md)

The project root is --root, else the nearest folder upward holding
.watchmanconfig, .git or pyproject.toml, else the working directory.
"""

_IDLE_EXIT_HELP = {
    "serve": (
        "stop after DURATION with no dev server (90s, 30m, 1h; 0: never). Default: "
        f"${IDLE_EXIT_ENV}, else never in a terminal or under systemd, "
        f"else {format_duration(BACKGROUND_IDLE_EXIT)}"
    ),
    "start": (
        "stop after DURATION with no dev server (90s, 30m, 1h; 0: never). Default: "
        f"${IDLE_EXIT_ENV}, else {format_duration(BACKGROUND_IDLE_EXIT)}"
    ),
}


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

    def command(name: str, help_text: str, *, root: bool = True) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text, description=help_text)
        sub.set_defaults(command_parser=sub)  # for errors found after parsing
        if root:
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
        sub.add_argument(
            "--log-level",
            default=DEFAULT_LOG_LEVEL,
            help=f"DEBUG, INFO, WARNING or ERROR (default {DEFAULT_LOG_LEVEL})",
        )
        sub.add_argument(
            "--grace",
            type=float,
            default=DEFAULT_GRACE,
            help=f"seconds to keep a departed dev server's registration (default {DEFAULT_GRACE:g})",
        )
        sub.add_argument(
            "--idle-exit", type=_duration, metavar="DURATION", help=_IDLE_EXIT_HELP[name]
        )
    stop_parser = command("stop", "stop the daemon, and wait until its process has exited")
    stop_parser.add_argument(
        "--all", action="store_true", help="stop every daemon of yours (see 'reloadd list')"
    )
    status_parser = command("status", "show the daemon and its clients")
    status_parser.add_argument("--json", action="store_true", help="print one JSON object")
    status_parser.add_argument(
        "--watch",
        action="store_true",
        help="redraw the table whenever something happens, until Ctrl-C (a terminal pane)",
    )
    events_parser = command(
        "events", "follow what the dev servers do (changes, restarts, crashes) until Ctrl-C"
    )
    events_parser.add_argument(
        "--json", action="store_true", help="one JSON object per line (docs/protocol.md)"
    )
    reload_parser = command("reload", "restart a dev server (or every one) now")
    reload_parser.add_argument(
        "name", nargs="?", metavar="NAME", help="the dev server, as 'reloadd status' names it"
    )
    list_parser = command(
        "list", "show every daemon of yours: root, pid, clients, idle for", root=False
    )
    list_parser.add_argument("--json", action="store_true", help="print one JSON array")
    add_run_arguments(command("run", "run CMD and restart it when one of its files changes"))
    changed_parser = command("changed", "report saved files to the running daemon (for editors)")
    changed_parser.add_argument(
        "paths", nargs="+", metavar="PATH", help="the files saved (relative to the working folder)"
    )
    changed_parser.add_argument(
        "-q", "--quiet", action="store_true", help="print nothing unless it fails"
    )
    return parser


def _duration(text: str) -> float:
    try:
        return parse_duration(text)
    except DurationError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def parse_arguments(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Parse ``argv``; a mistake exits 2 with the usage of the command it was made in."""
    args, unknown = build_parser().parse_known_args(argv)
    command_parser: argparse.ArgumentParser = args.command_parser
    if unknown:
        command_parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    if args.command == "stop" and args.all and args.root:
        command_parser.error("--all stops every daemon; leave out --root")
    if args.command == "status" and args.watch and args.json:
        command_parser.error("--watch redraws a table; for JSON, use 'reloadd events --json'")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``reloadd`` command; return its exit status."""
    args = parse_arguments(argv)
    try:
        if args.command == "serve":
            return serve(args)
        if args.command == "start":
            return start(args)
        if args.command == "stop":
            return stop(args)
        if args.command == "list":
            return list_daemons(args)
        if args.command == "run":
            args.root = str(project_root(args.root))  # checked here, so it fails in one line
            return run_command(options_from_args(args))
        if args.command == "changed":
            return changed(args)
        if args.command == "events":
            return events(args)
        if args.command == "reload":
            return reload(args)
        return status(args)
    except ReloaddError as exc:
        print(f"reloadd: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:  # the library maps its own; this is the command's own file access
        print(f"reloadd: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
