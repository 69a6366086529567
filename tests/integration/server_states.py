"""Following a dev server's reported state from a tool client, as ``reloadd status`` shows it.

:class:`StateWatch` polls ``status`` over one connection and keeps every distinct
``(pid, state)`` it saw for the clients whose name holds a given text, in order, so a
test can wait for a *new* process to go ``starting`` → ``ready`` (a restarted process
takes its registration back, and with it the previous process's state, for the moment
between its ``hello`` and its ``starting``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from reloadd.client import Client, Role
from reloadd.protocol import ClientInfo, ServerState

STATE_TIMEOUT = 30.0
"""Seconds a server may take to reach a state (a start on a loaded machine)."""

POLL_INTERVAL = 0.002
"""Seconds between two ``status`` requests."""


class StateWatch:
    """A tool connection that follows the state of the clients named with ``name_part``."""

    def __init__(self, root: Path, name_part: str) -> None:
        self.name_part = name_part
        self.client = Client(
            root,
            name=f"test states {name_part}",
            role=Role.TOOL,
            spawn=False,
            handshake_timeout=STATE_TIMEOUT,
        )
        self.seen: list[tuple[int, ServerState | None]] = []
        """Every distinct ``(pid, state)`` seen, in order."""

    def close(self) -> None:
        """Close the connection."""
        self.client.close()

    def __enter__(self) -> StateWatch:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def current(self) -> ClientInfo | None:
        """The server's entry now (recorded in :attr:`seen`), or None if it has none."""
        entries = [
            c
            for c in self.client.status().clients
            if self.name_part in c.name and c.role is Role.SERVER
        ]
        if not entries:
            return None
        # A restarted server's new connection, before it takes its registration back, is
        # listed beside the kept one: the connected, most recent entry is the server now.
        info = max(entries, key=lambda c: (c.connected, c.connected_at))
        if not self.seen or self.seen[-1] != (info.pid, info.state):
            self.seen.append((info.pid, info.state))
        return info

    def wait_until(
        self,
        accept: Callable[[ClientInfo], bool],
        what: str,
        *,
        check: Callable[[], None] = lambda: None,
        timeout: float = STATE_TIMEOUT,
    ) -> ClientInfo:
        """Poll until ``accept`` takes the server's entry; return it. ``check`` may fail early."""
        deadline = time.monotonic() + timeout
        while True:
            info = self.current()
            if info is not None and accept(info):
                return info
            if time.monotonic() > deadline:
                raise AssertionError(f"no {what} within {timeout} s; seen {self.seen}")
            check()
            time.sleep(POLL_INTERVAL)

    def wait_for_state(
        self,
        state: ServerState,
        *,
        new_after: int | None = None,
        check: Callable[[], None] = lambda: None,
        timeout: float = STATE_TIMEOUT,
    ) -> ClientInfo:
        """Wait for ``state``; with ``new_after`` (a pid), reported by another process that
        reported ``starting`` first."""

        def accept(info: ClientInfo) -> bool:
            if info.state is not state:
                return False
            if new_after is None:
                return True
            return info.pid != new_after and (info.pid, ServerState.STARTING) in self.seen

        return self.wait_until(
            accept, f"{state.value} (new after pid {new_after})", check=check, timeout=timeout
        )
