"""The options of ``reloadd run``: its arguments, checked and turned into :class:`RunOptions`."""

from __future__ import annotations

import argparse
import os
import signal
from dataclasses import dataclass, field
from pathlib import Path

from reloadd.client.run.patterns import IgnoreRules, WatchSet, watch_set
from reloadd.client.run.sockets import SocketSpec, parse_socket_spec
from reloadd.protocol import ReloaddError

DEFAULT_STOP_TIMEOUT = 5.0
"""Seconds a child may take to exit after the stop signal before its group is killed."""


class RunError(ReloaddError):
    """``reloadd run`` cannot do what it was asked (bad option, command not found)."""


@dataclass(frozen=True)
class RunOptions:
    """What ``reloadd run`` runs and how: the result of its command line."""

    command: tuple[str, ...]
    root: str | None = None
    name: str | None = None
    watch: WatchSet = field(default_factory=WatchSet)
    ignore: IgnoreRules = field(default_factory=IgnoreRules)
    sockets: tuple[SocketSpec, ...] = ()
    stop_signal: signal.Signals = signal.SIGTERM
    stop_timeout: float = DEFAULT_STOP_TIMEOUT
    cwd: Path = field(default_factory=Path.cwd)
    warm: bool = False
    """Fork each restart from a preloaded template (``--warm``, docs/warm.md)."""

    def client_name(self) -> str:
        """The name the supervisor registers under: the same for the same command in the same folder."""
        if self.name:
            return self.name[:250]
        return f"reloadd run {' '.join(self.command)[:150]} in {self.cwd}"[:250]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``reloadd run``'s options and its ``-- CMD [ARGS...]`` to a (sub)parser."""
    parser.add_argument(
        "--name", help="the name to register with the daemon (default: the command)"
    )
    parser.add_argument(
        "--watch",
        action="append",
        default=[],
        metavar="GLOB",
        help="also restart when a file matching GLOB changes (relative to the working folder; "
        "repeatable); for a command that is not Python, the only watch set",
    )
    parser.add_argument(
        "--ignore",
        action="append",
        default=[],
        metavar="GLOB",
        help="never restart for files matching GLOB (a pattern without '/' matches file names; "
        "repeatable)",
    )
    parser.add_argument(
        "--socket",
        action="append",
        default=[],
        metavar="[HOST:]PORT",
        help="bind this TCP socket in the supervisor and pass it to each child as fd 3, 4, ... "
        "(LISTEN_FDS/LISTEN_PID); HOST defaults to 127.0.0.1 (repeatable)",
    )
    parser.add_argument(
        "--stop-signal",
        default="SIGTERM",
        metavar="SIGNAL",
        help="the signal that stops the child's process group (default SIGTERM)",
    )
    parser.add_argument(
        "--stop-timeout",
        type=float,
        default=DEFAULT_STOP_TIMEOUT,
        metavar="SECONDS",
        help=f"then SIGKILL the group after this long (default {DEFAULT_STOP_TIMEOUT:g})",
    )
    parser.add_argument(
        "--warm",
        action="store_true",
        help="restart by forking a template that has already imported the command's "
        "third-party modules (Python commands; cold when it cannot, saying why; docs/warm.md)",
    )
    parser.add_argument(
        "argv", nargs=argparse.REMAINDER, metavar="-- CMD [ARGS...]", help="the command to run"
    )


def options_from_args(args: argparse.Namespace) -> RunOptions:
    """Check the parsed arguments; raise :class:`RunError` saying what to change."""
    command = list(args.argv)
    if command and command[0] == "--":
        command = command[1:]
    if not command:
        raise RunError("no command to run; use 'reloadd run [OPTIONS] -- CMD [ARGS...]'")
    if args.stop_timeout < 0:
        raise RunError(f"--stop-timeout must be 0 or more seconds, got {args.stop_timeout:g}")
    cwd = Path.cwd()
    return RunOptions(
        command=tuple(command),
        root=args.root,
        name=args.name,
        watch=watch_set(args.watch, cwd),
        ignore=IgnoreRules.from_patterns(args.ignore, cwd),
        sockets=tuple(_socket_spec(text) for text in args.socket),
        stop_signal=parse_signal(args.stop_signal),
        stop_timeout=args.stop_timeout,
        cwd=cwd,
        warm=bool(getattr(args, "warm", False)),
    )


def parse_signal(text: str) -> signal.Signals:
    """A signal from a name (``SIGINT``, ``INT``, ``int``) or a number; :class:`RunError` if none."""
    name = text.strip().upper()
    try:
        if name.isdigit():
            return signal.Signals(int(name))
        return signal.Signals[name if name.startswith("SIG") else f"SIG{name}"]
    except (KeyError, ValueError):
        raise RunError(
            f"--stop-signal {text!r} names no signal; use a name such as SIGTERM or SIGINT"
        ) from None


def _socket_spec(text: str) -> SocketSpec:
    try:
        return parse_socket_spec(text)
    except ValueError as exc:
        raise RunError(f"--socket {text!r}: {exc}") from None


def describe_command(command: tuple[str, ...] | list[str]) -> str:
    """A short form of a command for messages: its program's name and arguments."""
    if not command:
        return ""
    text = " ".join([os.path.basename(command[0]), *command[1:]])
    return text if len(text) <= 60 else text[:57] + "..."
