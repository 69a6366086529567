"""``reloadd reload [NAME]``: restart one dev server (or every one) now, without touching a file."""

from __future__ import annotations

import argparse
import sys

from reloadd.client.cli_root import project_root
from reloadd.client.connection import Client
from reloadd.protocol import DaemonNotRunning, Role

RELOAD_TIMEOUT = 10.0
"""Seconds ``reloadd reload`` waits for the daemon's reply."""


def reload(args: argparse.Namespace) -> int:
    """Ask the daemon to restart ``NAME`` (or all); exit 1 if none was asked."""
    root = project_root(args.root)
    try:
        client = Client(
            root, name="reloadd reload", role=Role.TOOL, spawn=False, request_timeout=RELOAD_TIMEOUT
        )
    except DaemonNotRunning:
        print(
            f"reloadd: no daemon runs for {root}, so no dev server to restart; pass --root if "
            "the project is elsewhere",
            file=sys.stderr,
        )
        return 1
    with client:
        restarted = client.reload(args.name)
    if not restarted:
        print("reloadd: no dev server is connected; nothing to restart", file=sys.stderr)
        return 1
    print(f"reloadd: asked {', '.join(restarted)} to restart")
    return 0
