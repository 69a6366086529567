"""How long a daemon with no dev server waits before it exits: ``--idle-exit``.

Precedence, as in watchfiles: the argument, else ``$RELOADD_IDLE_EXIT``, else a
default that depends on who runs the daemon:

* a daemon started in the background (``reloadd start``, or a client on demand)
  exits after :data:`BACKGROUND_IDLE_EXIT`: nobody sees it, so nobody would stop it;
* ``reloadd serve`` under systemd never does: the service manager owns its life;
* ``reloadd serve`` in a terminal never does either: you see it, and Ctrl-C stops it;
* ``reloadd serve`` anywhere else (a script, ``nohup``) is in the background too.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Mapping

from reloadd.protocol import ReloaddError

ENV_VAR = "RELOADD_IDLE_EXIT"
"""The environment variable read when ``--idle-exit`` is not given."""

BACKGROUND_IDLE_EXIT = 30 * 60.0
"""Seconds a daemon started in the background waits with no dev server before it exits."""

NEVER = 0.0
"""The ``--idle-exit`` value of a daemon that never exits for being idle."""

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ms|s|m|h|d)")
_SYSTEMD_VARIABLES = ("INVOCATION_ID", "NOTIFY_SOCKET")


class DurationError(ReloaddError):
    """A duration such as ``--idle-exit 30m`` could not be read."""


def parse_duration(text: str) -> float:
    """Seconds in ``text``: ``90``, ``90s``, ``30m``, ``1h30m``, ``1.5h``, ``500ms``; ``0`` is 0."""
    compact = text.strip().lower().replace(" ", "")
    try:
        return _non_negative(float(compact), text)  # a bare number is seconds
    except ValueError:
        pass
    position, total = 0, 0.0
    while position < len(compact):
        part = _PART.match(compact, position)
        if part is None:
            break
        total += float(part.group(1)) * _UNITS[part.group(2)]
        position = part.end()
    if not compact or position != len(compact):
        raise DurationError(
            f"{text!r} is not a duration; write e.g. 90s, 30m, 1h30m, or 0 for never"
        )
    return _non_negative(total, text)


def _non_negative(seconds: float, text: str) -> float:
    if seconds < 0 or seconds != seconds or seconds == float("inf"):
        raise DurationError(f"{text!r} is not a duration of 0 or more seconds; 0 means never")
    return seconds


def under_systemd(env: Mapping[str, str]) -> bool:
    """Whether systemd started this process as (part of) a service."""
    return any(env.get(name) for name in _SYSTEMD_VARIABLES)


def default_idle_exit(env: Mapping[str, str], *, interactive: bool) -> float:
    """The idle exit of ``reloadd serve`` given neither ``--idle-exit`` nor the variable."""
    if under_systemd(env) or interactive:
        return NEVER
    return BACKGROUND_IDLE_EXIT


def idle_exit_seconds(
    argument: float | None,
    *,
    env: Mapping[str, str] | None = None,
    background: bool = False,
    interactive: bool | None = None,
) -> float:
    """The idle exit in seconds: ``argument``, else ``$RELOADD_IDLE_EXIT``, else the default.

    The default is :data:`BACKGROUND_IDLE_EXIT` for a daemon started in the background,
    else :func:`default_idle_exit`'s; ``interactive`` defaults to whether standard input
    is a terminal.
    """
    env = os.environ if env is None else env
    if argument is not None:
        return argument
    from_env = env.get(ENV_VAR, "").strip()
    if from_env:
        try:
            return parse_duration(from_env)
        except DurationError as exc:
            raise DurationError(f"{ENV_VAR}: {exc}") from exc
    if background:
        return BACKGROUND_IDLE_EXIT
    if interactive is None:
        interactive = sys.stdin is not None and sys.stdin.isatty()
    return default_idle_exit(env, interactive=interactive)


def format_duration(seconds: float) -> str:
    """``seconds`` the way ``--idle-exit`` takes it back: ``30m``, ``90s``, ``0``."""
    if seconds <= 0:
        return "0"
    whole = int(seconds)
    if whole != seconds:
        return f"{seconds:g}s"
    for unit, size in (("h", 3600), ("m", 60)):
        if whole % size == 0:
            return f"{whole // size}{unit}"
    return f"{whole}s"


def describe_duration(seconds: float) -> str:
    """``seconds`` in words, for messages and docs: ``30 minutes``, ``1 hour``, ``90 seconds``."""
    whole = int(seconds)
    for unit, size in (("hour", 3600), ("minute", 60)):
        if whole == seconds and whole and whole % size == 0:
            count = whole // size
            return f"{count} {unit}{'s' if count != 1 else ''}"
    return f"{seconds:g} second{'s' if seconds != 1 else ''}"
