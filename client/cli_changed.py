"""``reloadd changed PATH...``: an editor reports saved files to the running daemon."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from reloadd.client.cli_root import project_root
from reloadd.client.connection import Client
from reloadd.protocol import DaemonNotRunning, Role

CHANGED_TIMEOUT = 10.0
"""Seconds ``reloadd changed`` waits for the daemon's reply (an editor's hook must not hang)."""


def changed(args: argparse.Namespace) -> int:
    """Report the paths; exit 1 if one is outside the project or missing and nobody was told.

    Such a path is still reported (a dev server may have registered a library file,
    and a deleted file is a change), but separately: when it tells no dev server it
    was most likely a mistake, and the command says which path and why.
    """
    root = project_root(args.root)
    expected: list[str] = []
    doubtful: list[str] = []
    for given in args.paths:
        (expected if _problem(given, root) is None else doubtful).append(given)
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
    notified = recorded = reported = 0
    with client:
        if expected:
            noted = client.saved(expected)
            notified, recorded, reported = noted.notified, noted.recorded, len(expected)
        if doubtful:
            noted = client.saved(doubtful)
            if noted.notified:
                notified += noted.notified
                recorded += noted.recorded
                reported += len(doubtful)
                doubtful = []
    for given in doubtful:
        print(f"reloadd: {given}: {_problem(given, root)}; told no dev server", file=sys.stderr)
    if reported and not args.quiet:
        print(f"reloadd: {told(notified, recorded, reported)}")
    return 1 if doubtful else 0


def _problem(given: str, root: Path) -> str | None:
    """Why ``given`` is unlikely to be a file of this project's dev servers, or None."""
    path = Path(os.path.abspath(given))
    if not os.path.lexists(path):
        return "no such file"
    if not (_inside(path, root) or _inside(path.resolve(), root)):
        return f"not in the project {root} (pass --root if it is another project's)"
    return None


def _inside(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


def told(notified: int, recorded: int, reported: int) -> str:
    """What the daemon did with a report of ``reported`` saved files, in one sentence."""
    files = "file" if reported == 1 else "files"
    if notified:
        servers = "dev server" if notified == 1 else "dev servers"
        return f"told {notified} {servers} of {reported} saved {files}"
    if not recorded:
        return f"told no dev server: the daemon's watcher had already reported the saved {files}"
    return f"told no dev server: none registered the saved {files}"
