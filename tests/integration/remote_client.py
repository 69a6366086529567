"""A dev server's client as its own process, configured by environment only, reporting in JSON lines.

``python remote_client.py ROOT FILE…``: registers the files (with ``since`` = now), then
prints one JSON object per line on stdout: ``{"state": …}`` whenever the connection's
state changes, ``{"changed": [paths], "state": …}`` for each notification. SIGTERM closes
the client and exits 0.
"""

from __future__ import annotations

import json
import signal
import sys
import time
from types import FrameType

from reloadd.client import Client


def say(**fields: object) -> None:
    """One JSON line on stdout."""
    print(json.dumps(fields), flush=True)


def main(argv: list[str]) -> int:
    """Run until SIGTERM."""
    stopping = False

    def stop(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    root, files = argv[0], argv[1:]
    client = Client(root, name="remote test client")
    state = client.state.value
    say(state=state)
    client.watch(files=files, since=time.time())
    say(watching=len(files), state=client.state.value)
    while not stopping:
        changed = client.wait(0.2)
        if client.state.value != state:
            state = client.state.value
            say(state=state)
        if changed:
            say(changed=[str(path) for path in changed], state=client.state.value)
    client.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
