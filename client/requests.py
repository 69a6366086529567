"""The client's requests that take more than one message: registrations and save reports in batches."""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path

from reloadd.client.channel import Channel
from reloadd.client.registration import batches, glob_key
from reloadd.client.results import SaveResult, WatchResult
from reloadd.protocol import (
    ErrorCode,
    GlobSpec,
    Noted,
    Request,
    RequestRejected,
    Saved,
    Unwatch,
    Watch,
    Watching,
    Welcome,
)
from reloadd.protocol.digest import registration_digest


def sendable(
    names: list[str], globs: list[GlobSpec]
) -> tuple[list[str], list[GlobSpec], list[str]]:
    """The names and globs the wire can carry (valid UTF-8), and the names it cannot.

    A file system name may hold bytes that are not UTF-8 (Python keeps them as
    surrogates); the protocol's strings are UTF-8, so such a path cannot be registered.
    One encode of everything keeps the usual case (all valid) cheap for 20,000 names.
    """
    try:
        "\0".join([*names, *(g.directory + "\0" + g.pattern for g in globs)]).encode()
    except UnicodeEncodeError:
        pass
    else:
        return names, globs, []
    good = [name for name in names if _is_utf8(name)]
    good_globs = [g for g in globs if _is_utf8(g.directory) and _is_utf8(g.pattern)]
    bad = [name for name in names if not _is_utf8(name)]
    bad += [g.directory for g in globs if g not in good_globs]
    return good, good_globs, bad


def _is_utf8(text: str) -> bool:
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


RESTART_MARGIN = 0.1
"""Seconds subtracted from "last heard" when registering again: heard at is not sent at."""


def send_watch(
    channel: Channel,
    kind: type[Watch] | type[Unwatch],
    files: list[str],
    globs: list[GlobSpec],
    since: float,
    timeout: float,
) -> WatchResult:
    """Send a ``watch`` or ``unwatch`` in as many messages as the limits need.

    The counts are the last reply's (the whole registration); ``unwatched`` adds up every reply's.
    """
    reply: Watching | None = None
    unwatched = 0
    for file_batch, glob_batch in batches(files, globs) or [((), ())]:
        if kind is Watch:
            message: Request = Watch(
                id=channel.next_id(), files=file_batch, globs=glob_batch, since=since
            )
        else:
            message = Unwatch(id=channel.next_id(), files=file_batch, globs=glob_batch)
        reply = channel.request(message, Watching, timeout=timeout)
        unwatched += reply.unwatched
    assert reply is not None
    return WatchResult(files=reply.files, globs=reply.globs, unwatched=unwatched)


def took_back(welcome: Welcome | None, files: Collection[str], globs: Collection[GlobSpec]) -> bool:
    """Whether the daemon gave back a registration equal to these files and globs."""
    taken_back = welcome.registration if welcome is not None else ""
    return bool(taken_back) and registration_digest(list(files), list(globs)) == taken_back


def reregister(
    channel: Channel,
    welcome: Welcome | None,
    files: Collection[str],
    globs: Collection[GlobSpec],
    since: float,
    timeout: float,
) -> None:
    """Register everything again with a (new) daemon, reporting changes made after ``since``."""
    if took_back(welcome, files, globs):
        message = Watch(id=channel.next_id(), since=since - RESTART_MARGIN, unchanged=True)
        channel.request(message, Watching, timeout=timeout)
    elif files or globs:
        send_watch(
            channel,
            Watch,
            sorted(files),
            sorted(globs, key=glob_key),
            since - RESTART_MARGIN,
            timeout,
        )


def send_saved(channel: Channel, paths: list[str], root: Path, timeout: float) -> SaveResult:
    """Report saved files in as many messages as the limits need; the counts summed."""
    notified = recorded = 0
    for batch, _ in batches(paths, []):
        try:
            reply = channel.request(
                Saved(id=channel.next_id(), paths=batch), Noted, timeout=timeout
            )
        except RequestRejected as exc:
            if exc.code != ErrorCode.UNKNOWN_TYPE:
                raise
            raise RequestRejected(
                f"the reloadd daemon running for {root} is older than this client and "
                f"takes no save reports; run 'reloadd stop --root {root}' so that a "
                "current one starts",
                code=exc.code,
            ) from exc
        notified += reply.notified
        recorded += reply.recorded
    return SaveResult(notified=notified, recorded=recorded)
