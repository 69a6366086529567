"""The connection states of a :class:`~reloadd.client.Client`, and the one place they change.

::

                      ┌──────────────────────────────┐
                      ▼                              │ daemon gone, restarted,
    CONNECTING ──▶ REGISTERED ──▶ RECONNECTING ──────┘ or forgot this client
        │                            │   ▲
        │ no daemon (fallback)       │   │ every RETRY_INTERVAL
        └──────────────▶ POLLING ◀───┘   │
                            └────────────┘
    RECONNECTING ──▶ LOST     no daemon, no fallback: requests raise, the next one retries
    any state    ──▶ CLOSED   close()

* ``CONNECTING``: the constructor's handshake (or start) of a daemon.
* ``REGISTERED``: a daemon welcomed this client and watches its registration.
* ``RECONNECTING``: the daemon went away or forgot this client; saying ``hello`` again
  (starting a daemon if allowed) and registering again. Also the periodic attempt to
  leave ``POLLING``, which goes back to ``POLLING`` quietly when it fails.
* ``POLLING``: no daemon can be reached; the client stats its files in-process.
* ``LOST``: no daemon, and the client may not fall back (``spawn=False`` or
  ``fallback=False``): requests raise :class:`~reloadd.protocol.DaemonNotRunning`.
* ``CLOSED``: :meth:`~reloadd.client.Client.close` was called.
"""

from __future__ import annotations

from enum import Enum

from reloadd.client import log


class State(str, Enum):
    """Where a client's connection to its daemon stands (see the module's diagram)."""

    CONNECTING = "connecting"
    REGISTERED = "registered"
    RECONNECTING = "reconnecting"
    POLLING = "polling"
    LOST = "lost"
    CLOSED = "closed"


TRANSITIONS: dict[State, frozenset[State]] = {
    State.CONNECTING: frozenset({State.REGISTERED, State.POLLING, State.CLOSED}),
    State.REGISTERED: frozenset({State.RECONNECTING, State.CLOSED}),
    State.RECONNECTING: frozenset({State.REGISTERED, State.POLLING, State.LOST, State.CLOSED}),
    State.POLLING: frozenset({State.RECONNECTING, State.CLOSED}),
    State.LOST: frozenset({State.RECONNECTING, State.CLOSED}),
    State.CLOSED: frozenset({State.CLOSED}),
}
"""The transitions a client may make; any other is a bug (:class:`InvalidTransition`)."""


class InvalidTransition(RuntimeError):
    """A transition :data:`TRANSITIONS` does not allow: a bug in the client, not a user error."""


class StateMachine:
    """Holds a client's :class:`State`; :meth:`enter` is the only way to change it."""

    def __init__(self, owner: str) -> None:
        self.owner = owner
        """Who the states are for (the project root), for the log."""
        self.state = State.CONNECTING

    def enter(self, new: State, reason: object = "") -> State:
        """Move to ``new`` (logged with ``reason``); return the state left."""
        old = self.state
        if new not in TRANSITIONS[old]:
            raise InvalidTransition(f"a client may not go from {old.value} to {new.value}")
        self.state = new
        if new is not old:
            log.debug("client of %s: %s -> %s %s", self.owner, old.value, new.value, reason)
        return old
