"""What the client's public API returns: the client's own types, not wire records."""

from __future__ import annotations

from reloadd.protocol.record import Record


class WatchResult(Record):
    """What :meth:`Client.watch` and :meth:`Client.unwatch` return: the registration's size now."""

    files: int
    """How many files this client has registered."""
    globs: int
    """How many ``(directory, pattern)`` globs this client has registered."""
    unwatched: int = 0
    """How many of the files and glob folders just sent no watched folder covers: the daemon
    does not widen a watch beyond the project, the library folders and a file's own small
    folder, so their changes are not reported."""


class SaveResult(Record):
    """What :meth:`Client.saved` returns: what the daemon did with a save report."""

    notified: int
    """How many clients were told of a change because of this report."""
    recorded: int
    """How many of the paths had changed since the daemon last saw them (0: its watcher, or an
    earlier report, was first, or no daemon runs and this client polls)."""


class DaemonInfo(Record):
    """What :attr:`Client.daemon` says of the daemon a client talks to."""

    pid: int
    """The daemon's process id."""
    instance: str
    """A fresh random id per daemon run: a different one means the daemon restarted."""
    backend: str
    """Its watch backend: ``watchman`` or ``builtin``."""
    protocol: int
    """The protocol version it speaks."""
    heartbeat: float
    """Seconds between this client's heartbeats."""
    registration: str
    """The digest of the registration this client took back when it connected (it restarted
    within its grace period), or empty."""
