"""The wire format shared by the reloadd daemon and its clients: msgpack and the standard library only.

No sockets and no threads live here: messages (frozen records), the one
:func:`encode`/:func:`decode` pair, the named limits, glob matching, and the
rules that map a project to its root and endpoint. Also what both sides must agree
on beyond the wire, written once because the client and the daemon may not import
each other: the daemon's defaults (:mod:`~reloadd.protocol.defaults`), what a change
to a file is (:mod:`~reloadd.protocol.file_state`), and the one wake-up pipe both use
to hand work between their threads (:mod:`~reloadd.protocol.wakeup`, a pipe and a
lock, no thread of its own).
"""

from reloadd.protocol.codec import (
    decode,
    decode_as,
    decode_reply,
    decode_request,
    encode,
    request_id,
)
from reloadd.protocol.errors import (
    BackendError,
    DaemonError,
    DaemonNotRunning,
    DaemonStartFailed,
    DaemonTimeout,
    EndpointError,
    ErrorCode,
    KeyFileError,
    MessageTooLarge,
    ProtocolError,
    ReloaddError,
    RequestRejected,
    VersionMismatch,
    WatchmanUnavailable,
)
from reloadd.protocol.messages import (
    MESSAGE_TYPES,
    PROTOCOL_VERSION,
    Bye,
    Changed,
    ClientInfo,
    Error,
    GlobSpec,
    Hello,
    Message,
    Noted,
    Ping,
    Pong,
    Reply,
    Request,
    Role,
    Saved,
    Side,
    Status,
    StatusReply,
    Stop,
    Stopping,
    Unwatch,
    Watch,
    Watching,
    Welcome,
)

__version__ = "0.1.0"
"""The version of the reloadd distribution."""

__all__ = [
    "MESSAGE_TYPES",
    "PROTOCOL_VERSION",
    "BackendError",
    "Bye",
    "Changed",
    "ClientInfo",
    "DaemonError",
    "DaemonNotRunning",
    "DaemonStartFailed",
    "DaemonTimeout",
    "EndpointError",
    "Error",
    "ErrorCode",
    "GlobSpec",
    "Hello",
    "KeyFileError",
    "Message",
    "MessageTooLarge",
    "Noted",
    "Ping",
    "Pong",
    "ProtocolError",
    "ReloaddError",
    "Reply",
    "Request",
    "RequestRejected",
    "Role",
    "Saved",
    "Side",
    "Status",
    "StatusReply",
    "Stop",
    "Stopping",
    "Unwatch",
    "VersionMismatch",
    "Watch",
    "Watching",
    "WatchmanUnavailable",
    "Welcome",
    "__version__",
    "decode",
    "decode_as",
    "decode_reply",
    "decode_request",
    "encode",
    "request_id",
]
