"""The messages of protocol version 1, as frozen records (see :mod:`reloadd.protocol.record`).

Every message is one msgpack map on the wire with a string ``type`` and the
fields below (see ``docs/protocol.md``). Requests carry an ``id`` chosen by the
client; the reply to a request carries the same number as ``re``. ``changed``
is the only message the daemon sends unasked.
"""

from __future__ import annotations

from enum import Enum
from typing import ClassVar

from reloadd.protocol.errors import ErrorCode, ProtocolError
from reloadd.protocol.globs import compile_glob
from reloadd.protocol.limits import MAX_NAME_LENGTH
from reloadd.protocol.record import Record

PROTOCOL_VERSION = 1
"""The version of the wire protocol this code speaks; bumped on any incompatible change."""


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
    pid: int
    role: Role
    files: int
    globs: int
    connected_at: float
    connected: bool = True
    """False while the daemon keeps the registration of a client that left (its grace period)."""


class Message(Record):
    """Base of every message; ``TYPE`` is the value of the ``type`` field on the wire."""

    TYPE: ClassVar[str] = ""

    def check(self) -> None:
        """Raise :class:`ProtocolError` if the fields are well-typed but their values are not valid."""


class Request(Message):
    """A client → daemon message that expects a reply carrying its ``id`` as ``re``."""

    id: int


class Reply(Message):
    """A daemon → client answer to the request whose ``id`` it carries as ``re``."""

    re: int


def _check_absolute(paths: tuple[str, ...], what: str) -> None:
    if all(path.startswith("/") for path in paths) and "\0" not in "".join(paths):
        return  # the common case, in two passes over C loops
    for path in paths:
        if not path.startswith("/"):
            raise ProtocolError(
                f"{what} must be absolute paths, got {path[:80]!r}", code=ErrorCode.BAD_FIELD
            )
        if "\0" in path:
            raise ProtocolError(f"{what} must not contain NUL bytes", code=ErrorCode.BAD_FIELD)


def _check_globs(globs: tuple[GlobSpec, ...]) -> None:
    _check_absolute(tuple(glob.directory for glob in globs), "glob directories")
    for glob in globs:
        if not glob.pattern or glob.pattern.startswith("/") or "\0" in glob.pattern:
            raise ProtocolError(
                f"a glob pattern must be a non-empty relative pattern, got {glob.pattern!r}",
                code=ErrorCode.BAD_FIELD,
            )
        if len(glob.pattern) > MAX_NAME_LENGTH:
            raise ProtocolError(
                f"a glob pattern must be at most {MAX_NAME_LENGTH} characters",
                code=ErrorCode.BAD_FIELD,
            )
        compile_glob(glob.pattern)  # also refuses patterns that name nothing, such as "."


class Hello(Request):
    """Client → daemon, first message: who is connecting and which protocol it speaks."""

    TYPE: ClassVar[str] = "hello"
    protocol: int
    name: str
    pid: int
    role: Role = Role.SERVER

    def check(self) -> None:
        if not self.name or len(self.name) > MAX_NAME_LENGTH:
            raise ProtocolError(
                f"name must be 1 to {MAX_NAME_LENGTH} characters", code=ErrorCode.BAD_FIELD
            )
        if self.pid <= 0:
            raise ProtocolError("pid must be a positive integer", code=ErrorCode.BAD_FIELD)


class Welcome(Reply):
    """Daemon → client, the reply to ``hello``: which daemon this is."""

    TYPE: ClassVar[str] = "welcome"
    protocol: int
    instance: str
    """A fresh random id per daemon run: a new value means the daemon restarted."""
    root: str
    backend: str
    pid: int
    heartbeat: float = 2.0
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
    since: float = 0.0
    """Also report changes to these files made after this Unix time, as soon as they are watched.

    A dev server sends its process's start time with its first watch set, so
    changes made while it imported are not lost; the time of its previous scan
    with files found later; after a reconnection, when it last heard from the
    daemon. 0 reports only changes made after the reply.
    """

    def check(self) -> None:
        _check_absolute(self.files, "files")
        _check_globs(self.globs)


class Unwatch(Request):
    """Client → daemon: remove files and directory globs from this client's registration."""

    TYPE: ClassVar[str] = "unwatch"
    files: tuple[str, ...] = ()
    globs: tuple[GlobSpec, ...] = ()

    def check(self) -> None:
        _check_absolute(self.files, "files")
        _check_globs(self.globs)


class Watching(Reply):
    """Daemon → client, the reply to ``watch``/``unwatch``: sent once the backend watches them.

    Any change made after this reply is sent is reported.
    """

    TYPE: ClassVar[str] = "watching"
    files: int
    """How many files the client has registered now."""
    globs: int
    """How many globs the client has registered now."""


class Changed(Message):
    """Daemon → client, unasked: registered files changed (one message per burst)."""

    TYPE: ClassVar[str] = "changed"
    paths: tuple[str, ...]
    truncated: bool = False
    """True when more paths changed than ``MAX_CHANGED_PATHS``; treat as 'reload everything'."""
    at: float = 0.0
    """When the daemon saw the last of these changes (Unix time): a reconnecting client's ``since``."""


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
        _check_absolute(self.paths, "saved files")


class Noted(Reply):
    """Daemon → client, the reply to ``saved``: sent once the clients concerned were told."""

    TYPE: ClassVar[str] = "noted"
    notified: int
    """How many clients were sent a ``changed`` message because of this report."""
    recorded: int
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
    pid: int
    backend: str
    protocol: int
    instance: str
    started_at: float
    watched_roots: tuple[str, ...]
    clients: tuple[ClientInfo, ...]
    idle_since: float = 0.0
    """Since when the daemon has had no client but tools, connected or kept for its grace
    period (Unix time); 0.0 while it has one. Optional: older daemons do not send it."""


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
    """Client → daemon: this client is closing; forget its registration. No reply."""

    TYPE: ClassVar[str] = "bye"


class Error(Message):
    """Daemon → client: a request (``re``, or none if it could not be read) was refused."""

    TYPE: ClassVar[str] = "error"
    re: int | None
    code: ErrorCode
    message: str
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
