"""Recognising a child that tries to bind the port ``reloadd run --socket`` already holds for it.

A common first try is ``reloadd run --socket 5000 -- flask run --port 5000``: the
child binds port 5000 itself, finds it "in use" (by reloadd) and exits. This
module says so in one line and points to the recipes, instead of leaving the
user to read "Address already in use" as a second server left running.
"""

from __future__ import annotations

import errno
import re
from collections.abc import Sequence

from reloadd.client.run.reports import Crash

RECIPES = "'--socket' in docs/run.md"
"""Where the per-server recipes for taking the socket are."""


def port_conflict(
    command: Sequence[str],
    ports: Sequence[int],
    crash: Crash | None,
    failed_binds: Sequence[int] = (),
) -> str | None:
    """The one-line explanation when the child seems to have bound a port reloadd holds, else None.

    Seen from a Python child's failed ``bind`` to a held port (``failed_binds``), from
    the command line (an argument that is the port, or ends in ``:PORT`` or ``=PORT``),
    or from an uncaught ``EADDRINUSE`` in the child.
    """
    if not ports:
        return None
    named = [port for port in ports if port in failed_binds]
    named += [port for port in ports if _names_port(command[1:], port)]
    if named:
        port = named[0]
        return (
            f"the command binds port {port} itself, but reloadd already holds it for the "
            f"command (--socket): make the server take the socket (fd 3) instead of "
            f"binding the port, see {RECIPES} (uvicorn --fd 3, gunicorn --bind fd://3)"
        )
    if crash is not None and crash.errno == errno.EADDRINUSE:
        held = ", ".join(map(str, ports))
        return (
            f"the command failed with 'address already in use' while reloadd holds port "
            f"{held} for it (--socket): if it binds that port itself, make it take the "
            f"socket (fd 3) instead, see {RECIPES}"
        )
    return None


def _names_port(arguments: Sequence[str], port: int) -> bool:
    pattern = re.compile(rf"(?:.*[:=])?{port}")
    return any(pattern.fullmatch(argument) for argument in arguments)
