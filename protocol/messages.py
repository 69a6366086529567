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
from reloadd.protocol.limits import MAX_EVENT_PATHS, MAX_NAME_LENGTH
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


class ServerState(str, Enum):
    """Where a dev server is in its life, as it reports it with ``state``."""

    STARTING = "starting"
    """A new process began: importing the project, not serving yet."""
    READY = "ready"
    """Serving: a request made now is answered by the current code."""
    CRASHED = "crashed"
    """The code failed (at import, or the server stopped on an exception); waiting for a fix."""
    STOPPED = "stopped"
    """The server shut down on purpose (Ctrl-C, SIGTERM, the end of ``reloadd run``)."""


class Crash(Record):
    """Why and where a dev server failed: what ``state`` reports with ``crashed``."""

    type: HumanText
    """The exception's class name, e.g. ``SyntaxError``."""
    message: HumanText
    """The exception's message (its first lines)."""
    file: str = ""
    """The absolute path of the project file where it was raised (a ``SyntaxError``'s own
    file), or empty when no frame of the project is in the traceback."""
    line: Count = 0
    """The line in ``file`` (1-based), or 0 when unknown."""


class EventKind(str, Enum):
    """What an ``event`` message reports; ``reloadd events --json`` writes the same names."""

    CHANGED = "changed"
    """Files changed and these clients were told (``paths``, ``clients``)."""
    SAVED = "saved"
    """An editor reported saves (``paths``, ``client``)."""
    CLIENT_JOINED = "client-joined"
    """A client said ``hello`` (``client``, ``pid``, ``role``)."""
    CLIENT_LEFT = "client-left"
    """A client left or was dropped (``client``, ``pid``, ``role``)."""
    STATE = "state"
    """A dev server reported a new state (``client``, ``pid``, ``state``, ``duration_ms``
    on ``ready``, ``error`` on ``crashed``)."""
    EVENTS_DROPPED = "events-dropped"
    """This subscriber fell behind and ``dropped`` events were not sent to it."""


class ReloadInfo(Record):
    """A dev server's last restart: what caused it and how long until it was ``ready`` again."""

    at: UnixTime
    """When the daemon told it of the change (or sent the ``restart``) that caused it."""
    duration_ms: Count
    """From then to its ``ready`` report (or its own measure, if it gave one)."""
    paths: tuple[str, ...] = ()
    """What changed, at most ``MAX_RELOAD_PATHS``; empty for a ``reload`` asked for."""
    omitted: Count = 0
    """How many more paths changed than ``paths`` holds."""


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
    state: ServerState | None = None
    """The last state the client reported, or None if it never reported one."""
    state_since: UnixTime = 0.0
    """When it reported ``state`` (0 if it never did)."""
    last_reload: ReloadInfo | None = None
    """Its last restart that came back ``ready``, or None."""
    last_error: Crash | None = None
    """The last crash it reported (kept after it is fixed), or None."""
    last_error_at: UnixTime = 0.0
    """When it reported ``last_error`` (0 if never)."""


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


class StateReport(Message):
    """Client → daemon: this dev server's new state (no reply).

    Sent by the process that serves (or by ``reloadd run``'s supervisor for its child)
    under its registered name, so the state outlives a restart: ``starting`` when a new
    process begins, ``ready`` once it serves, ``crashed`` with the error, ``stopped``.
    """

    TYPE: ClassVar[str] = "state"
    SENT_BY: ClassVar[Side] = Side.CLIENT
    state: ServerState
    error: Crash | None = None
    """Required with ``crashed``, absent otherwise."""
    duration_ms: Count | None = None
    """The client's own measure of its restart, on ``ready``; when absent the daemon
    measures from the change it told this client of to this report."""

    def check(self) -> None:
        if (self.state is ServerState.CRASHED) != (self.error is not None):
            raise ProtocolError(
                "state: an error must be given with 'crashed', and only then",
                code=ErrorCode.BAD_FIELD,
            )


class Subscribe(Request):
    """Client → daemon: send me every event from now on (editors, ``reloadd events``).

    Answered by ``subscribed``; then ``event`` messages arrive unasked until the
    connection sends ``bye`` or is dropped.
    """

    TYPE: ClassVar[str] = "subscribe"


class Subscribed(Reply):
    """Daemon → client, the reply to ``subscribe``: every client as it stands now."""

    TYPE: ClassVar[str] = "subscribed"
    clients: tuple[ClientInfo, ...]


class Event(Message):
    """Daemon → subscriber, unasked: one thing that happened (see :class:`EventKind`).

    Which fields are set depends on ``event``; the others keep their defaults.
    """

    TYPE: ClassVar[str] = "event"
    SENT_BY: ClassVar[Side] = Side.DAEMON
    event: EventKind
    time: UnixTime
    """When it happened (Unix time)."""
    paths: tuple[str, ...] = ()
    """``changed``, ``saved``: the files (at most ``MAX_EVENT_PATHS``)."""

    omitted: Count = 0
    """``changed``, ``saved``: how many more paths there were than ``paths`` holds."""
    clients: tuple[str, ...] = ()
    """``changed``: the names of the clients told."""
    client: str = ""
    """``client-joined``, ``client-left``, ``state``, ``saved``: the client's name."""
    pid: Pid | None = None
    role: Role | None = None
    state: ServerState | None = None
    duration_ms: Count | None = None
    """``state`` ``ready``: from the change that caused the restart to ready, if one did."""
    error: Crash | None = None
    """``state`` ``crashed``: what failed, and where."""
    dropped: Count = 0
    """``events-dropped``: how many events this subscriber missed."""
    seq: Count = 0
    """This event's number on this subscription (1, 2, ...), which ``events_read`` acknowledges;
    ``events-dropped`` takes a number too, the events dropped do not."""

    def check(self) -> None:
        if len(self.paths) > MAX_EVENT_PATHS:
            raise ProtocolError(
                f"event: at most {MAX_EVENT_PATHS} paths (MAX_EVENT_PATHS)",
                code=ErrorCode.LIMIT_EXCEEDED,
            )


class EventsRead(Message):
    """Subscriber → daemon, no reply: every event up to number ``seq`` has been read.

    The daemon sends a subscriber at most ``MAX_QUEUED_EVENTS_PER_SUBSCRIBER`` events
    (and ``MAX_QUEUED_EVENT_BYTES_PER_SUBSCRIBER`` bytes) it has not acknowledged; beyond,
    it drops and counts them, and sends one ``events-dropped`` once this says it caught up.
    """

    TYPE: ClassVar[str] = "events_read"
    SENT_BY: ClassVar[Side] = Side.CLIENT
    seq: Count


class Reload(Request):
    """Client → daemon: restart this dev server (or every one) now, no file changed."""

    TYPE: ClassVar[str] = "reload"
    name: str = ""
    """The client to restart (as ``status`` names it), or empty for every dev server."""


class Reloading(Reply):
    """Daemon → client, the reply to ``reload``: the dev servers asked to restart."""

    TYPE: ClassVar[str] = "reloading"
    clients: tuple[str, ...]


class Restart(Message):
    """Daemon → dev server, unasked: restart now (a ``reload`` asked for it)."""

    TYPE: ClassVar[str] = "restart"
    SENT_BY: ClassVar[Side] = Side.DAEMON
    by: str = ""
    """The name of the client that asked."""


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
    StateReport,
    Subscribe,
    Subscribed,
    Event,
    EventsRead,
    Reload,
    Reloading,
    Restart,
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
