"""The messages of protocol version 1, as frozen records (see :mod:`reloadd.protocol.record`).

Every message is one msgpack map on the wire with a string ``type`` and the
fields below (see ``docs/protocol.md``). Requests carry an ``id`` chosen by the
client; the reply to a request carries the same number as ``re``. ``changed``
is the only message the daemon sends unasked.
"""

from __future__ import annotations

from enum import Enum
from typing import ClassVar

from reloadd.protocol.defaults import DEFAULT_HEARTBEAT
from reloadd.protocol.errors import ErrorCode, ProtocolError
from reloadd.protocol.fields import Count, Heartbeat, HumanText, Pid, RequestId, UnixTime, Version
from reloadd.protocol.limits import MAX_NAME_LENGTH
from reloadd.protocol.paths import check_absolute, check_globs
from reloadd.protocol.record import Record

PROTOCOL_VERSION = 1
"""The version of the wire protocol this code speaks; bumped on any incompatible change."""


class Side(str, Enum):
    """Which end of a connection sends a message type (its ``SENT_BY``)."""

    CLIENT = "client"
    """Dev servers, editors, the command line: the ``DEALER`` end."""
    DAEMON = "daemon"
    """The daemon: the ``ROUTER`` end."""


class Role(str, Enum):
    """What kind of program a client is."""

    SERVER = "server"
    """A dev server that reloads when its files change."""
    EDITOR = "editor"
    """An editor that reports saves and follows reloads."""
    TOOL = "tool"
    """Anything else: the command line, scripts, benchmarks."""


class GlobSpec(Record):
    """A directory and a ``Path.glob`` pattern relative to it, e.g. ``("/app/templates", "**/*")``."""

    directory: str
    pattern: str


class ClientInfo(Record):
    """One client as the daemon's ``status`` reply describes it."""

    name: str
    pid: Pid
    role: Role
    files: Count
    globs: Count
    connected_at: UnixTime
    connected: bool = True
    """False while the daemon keeps the registration of a client that left (its grace period)."""


class Message(Record):
    """Base of every message; ``TYPE`` is the value of the ``type`` field on the wire."""

    TYPE: ClassVar[str] = ""
    SENT_BY: ClassVar[Side]
    """The side that sends this message type; the other side refuses it as ``unexpected``."""

    def check(self) -> None:
        """Raise :class:`ProtocolError` if the fields are well-typed but their values are not valid."""


class Request(Message):
    """A client → daemon message that expects a reply carrying its ``id`` as ``re``."""

    SENT_BY: ClassVar[Side] = Side.CLIENT
    id: RequestId


class Reply(Message):
    """A daemon → client answer to the request whose ``id`` it carries as ``re``."""

    SENT_BY: ClassVar[Side] = Side.DAEMON
    re: RequestId


class Hello(Request):
    """Client → daemon, first message: who is connecting and which protocol it speaks."""

    TYPE: ClassVar[str] = "hello"
    protocol: Version
    name: str
    pid: Pid
    role: Role = Role.SERVER

    def check(self) -> None:
        if not self.name or len(self.name) > MAX_NAME_LENGTH:
            raise ProtocolError(
                f"name must be 1 to {MAX_NAME_LENGTH} characters", code=ErrorCode.BAD_FIELD
            )


class Welcome(Reply):
    """Daemon → client, the reply to ``hello``: which daemon this is."""

    TYPE: ClassVar[str] = "welcome"
    protocol: Version
    instance: str
    """A fresh random id per daemon run: a new value means the daemon restarted."""
    root: str
    backend: str
    pid: Pid
    heartbeat: Heartbeat = DEFAULT_HEARTBEAT
    """Seconds between the client's ``ping``s; a client silent for several is dropped."""
    registration: str = ""
    """The digest of the registration this client took back (it restarted within its grace
    period), or empty: a client whose files and globs have the same digest sends a ``watch``
    with ``unchanged`` instead of its whole list."""


class Watch(Request):
    """Client → daemon: add files and directory globs to this client's registration."""

    TYPE: ClassVar[str] = "watch"
    files: tuple[str, ...] = ()
    globs: tuple[GlobSpec, ...] = ()
    unchanged: bool = False
    """The client's registration is the one it took back (the digests in ``welcome`` matched):
    keep it, add ``files`` and ``globs`` if any, and apply ``since`` to all of it."""
    since: UnixTime = 0.0
    """Also report changes to these files made after this Unix time, as soon as they are watched.

    A dev server sends its process's start time with its first watch set, so
    changes made while it imported are not lost; the time of its previous scan
    with files found later; after a reconnection, when it last heard from the
    daemon. 0 reports only changes made after the reply.
    """

    def check(self) -> None:
        check_absolute(self.files, "files")
        check_globs(self.globs)


class Unwatch(Request):
    """Client → daemon: remove files and directory globs from this client's registration."""

    TYPE: ClassVar[str] = "unwatch"
    files: tuple[str, ...] = ()
    globs: tuple[GlobSpec, ...] = ()

    def check(self) -> None:
        check_absolute(self.files, "files")
        check_globs(self.globs)


class Watching(Reply):
    """Daemon → client, the reply to ``watch``/``unwatch``: sent once the backend watches them.

    Any change made after this reply is sent is reported.
    """

    TYPE: ClassVar[str] = "watching"
    files: Count
    """How many files the client has registered now."""
    globs: Count
    """How many globs the client has registered now."""
    unwatched: Count = 0
    """How many files and glob directories of this request no watched folder covers (the
    daemon does not widen a watch beyond the project, the library folders and a file's
    own small folder): their changes are not reported."""


class Changed(Message):
    """Daemon → client, unasked: registered files changed (one message per burst)."""

    TYPE: ClassVar[str] = "changed"
    SENT_BY: ClassVar[Side] = Side.DAEMON
    paths: tuple[str, ...]
    truncated: bool = False
    """True when more paths changed than ``MAX_CHANGED_PATHS``; treat as 'reload everything'."""
    at: UnixTime = 0.0
    """When the daemon saw the last of these changes (Unix time): a reconnecting client's ``since``."""
    more: bool = False
    """Another part of this same notification follows: a burst too large for one message is
    sent in parts (see :func:`reloadd.protocol.split.split_changed`); treat them as one."""


class Saved(Request):
    """Client → daemon: an editor saved these files; tell their clients now, not after the watcher.

    The daemon handles them as its watcher's next batch would, at once: a file whose
    state (size, mtime, ctime) is the one the daemon already knows is no change, and the
    watcher's own report of the same write later tells no one again.
    """

    TYPE: ClassVar[str] = "saved"
    paths: tuple[str, ...]
    """Absolute paths of the files written (or created, or deleted), as the editor knows them."""

    def check(self) -> None:
        check_absolute(self.paths, "saved files")


class Noted(Reply):
    """Daemon → client, the reply to ``saved``: sent once the clients concerned were told."""

    TYPE: ClassVar[str] = "noted"
    notified: Count
    """How many clients were sent a ``changed`` message because of this report."""
    recorded: Count
    """How many of the paths had changed since the daemon last saw them (0: its watcher, or
    an earlier report, was first)."""


class Status(Request):
    """Client → daemon: describe yourself and your clients."""

    TYPE: ClassVar[str] = "status"


class StatusReply(Reply):
    """Daemon → client, the reply to ``status``."""

    TYPE: ClassVar[str] = "status_reply"
    root: str
    endpoint: str
    pid: Pid
    backend: str
    protocol: Version
    instance: str
    started_at: UnixTime
    watched_roots: tuple[str, ...]
    clients: tuple[ClientInfo, ...]
    idle_since: UnixTime = 0.0
    """Since when the daemon has had no client but tools, connected or kept for its grace
    period (Unix time); 0.0 while it has one. Optional: older daemons do not send it."""
    polled_roots: tuple[str, ...] = ()
    """The roots among ``watched_roots`` that the daemon polls, not watches (their file system
    gives no events here). Optional: older daemons do not send it."""


class Ping(Request):
    """Client → daemon: a heartbeat; also how a client learns that the daemon is gone."""

    TYPE: ClassVar[str] = "ping"


class Pong(Reply):
    """Daemon → client, the reply to ``ping``."""

    TYPE: ClassVar[str] = "pong"
    instance: str
    """The daemon's instance id: a different one than at ``welcome`` means it restarted."""
    registered: bool = True
    """False if the daemon does not know this connection (it dropped a silent client, or
    restarted): the client must send ``hello`` and its watch set again."""


class Stop(Request):
    """Client → daemon: shut down cleanly."""

    TYPE: ClassVar[str] = "stop"


class Stopping(Reply):
    """Daemon → client, the reply to ``stop``, sent just before the daemon exits."""

    TYPE: ClassVar[str] = "stopping"


class Bye(Message):
    """Client → daemon: this client is closing. No reply.

    The daemon stops sending to it and keeps its registration for the grace period, for a
    new process of the same client (same ``name`` and ``role``) to take back; only then is
    it forgotten.
    """

    TYPE: ClassVar[str] = "bye"
    SENT_BY: ClassVar[Side] = Side.CLIENT


class Error(Message):
    """Daemon → client: a request (``re``, or none if it could not be read) was refused."""

    TYPE: ClassVar[str] = "error"
    SENT_BY: ClassVar[Side] = Side.DAEMON
    re: RequestId | None
    code: ErrorCode
    message: HumanText
    """What went wrong and what to do, for a human."""


MESSAGE_TYPES: tuple[type[Message], ...] = (
    Hello,
    Welcome,
    Watch,
    Unwatch,
    Watching,
    Changed,
    Saved,
    Noted,
    Status,
    StatusReply,
    Ping,
    Pong,
    Stop,
    Stopping,
    Bye,
    Error,
)
"""Every message type, in the order ``docs/protocol.md`` lists them."""
