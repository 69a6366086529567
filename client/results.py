"""What the client's public methods return: the client's own types, not wire records."""

from __future__ import annotations

from reloadd.protocol.record import Record


class WatchResult(Record):
    """What :meth:`Client.watch` and :meth:`Client.unwatch` return: the registration's size now."""

    files: int
    """How many files this client has registered."""
    globs: int
    """How many ``(directory, pattern)`` globs this client has registered."""


class SaveResult(Record):
    """What :meth:`Client.saved` returns: what the daemon did with a save report."""

    notified: int
    """How many clients were told of a change because of this report."""
    recorded: int
    """How many of the paths had changed since the daemon last saw them (0: its watcher, or an
    earlier report, was first, or no daemon runs and this client polls)."""
