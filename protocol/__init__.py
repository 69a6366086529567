"""The wire format shared by the reloadd daemon and its clients: msgpack and the standard library only.

No sockets and no threads live here: messages (frozen records), the one
:func:`encode`/:func:`decode` pair, the named limits, glob matching, and the
rules that map a project to its root and endpoint.
"""

from reloadd.protocol.codec import decode, decode_as, encode, request_id
from reloadd.protocol.errors import (
    BackendError,
    DaemonError,
    DaemonNotRunning,
    DaemonStartFailed,
    DaemonTimeout,
    EndpointError,
    ErrorCode,
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
    Ping,
    Pong,
    Reply,
    Request,
    Role,
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
    "Message",
    "MessageTooLarge",
    "Ping",
    "Pong",
    "ProtocolError",
    "ReloaddError",
    "Reply",
    "Request",
    "RequestRejected",
    "Role",
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
    "encode",
    "request_id",
]
