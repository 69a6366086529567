"""Every error reloadd raises, rooted in one :class:`ReloaddError`.

The tree, following httpx's layout::

    ReloaddError
    ├── ProtocolError          a message broke the wire format (carries an ErrorCode)
    │   ├── MessageTooLarge
    │   └── VersionMismatch
    ├── EndpointError          the runtime folder or socket cannot be used safely
    │   └── KeyFileError       a CurveZMQ key or the allow-list cannot be used (network endpoints)
    ├── DaemonError            talking to the daemon failed
    │   ├── DaemonNotRunning   nothing answers on the project's endpoint
    │   ├── DaemonStartFailed  a daemon was started but never answered
    │   ├── DaemonTimeout      the daemon stopped answering mid-conversation
    │   └── RequestRejected    the daemon answered with an error reply
    └── BackendError           a watch backend (Watchman, built-in) failed
        └── WatchmanUnavailable

Lower-level errors (zmq, msgpack, pywatchman) are mapped at the boundary with
``raise Mapped(...) from exc`` so callers only ever catch reloadd's own types.
"""

from __future__ import annotations

from enum import Enum


class ErrorCode(str, Enum):
    """The machine-readable reason carried by an ``error`` reply."""

    BAD_MESSAGE = "bad_message"
    """The bytes are not a msgpack map with a string ``type``."""
    BAD_FIELD = "bad_field"
    """A field is missing or has the wrong type or value."""
    UNKNOWN_TYPE = "unknown_type"
    """The ``type`` names no message this daemon knows."""
    VERSION_MISMATCH = "version_mismatch"
    """Client and daemon speak different protocol versions."""
    TOO_LARGE = "too_large"
    """The message is over ``MAX_MESSAGE_BYTES``."""
    NOT_REGISTERED = "not_registered"
    """A request came before the ``hello`` handshake."""
    LIMIT_EXCEEDED = "limit_exceeded"
    """A named limit (files, globs, clients) would be exceeded."""
    UNEXPECTED = "unexpected"
    """A message that is valid but makes no sense in this direction or state."""
    BACKEND_FAILED = "backend_failed"
    """The watch backend could not watch what was asked."""
    INTERNAL = "internal"
    """The daemon failed while handling the request (a bug, logged with its traceback); it
    serves on, and the request may be sent again."""


def quote(value: object, limit: int = 80) -> str:
    """A short, safe rendering of an untrusted value for an error message.

    A string is shown (its first ``limit`` characters, then ``…``); anything else by its
    type only, so building a message never walks, or copies, a huge or deeply nested value.
    """
    if isinstance(value, str):
        return repr(value[:limit]) + ("…" if len(value) > limit else "")
    return f"a {type(value).__name__}"


class ReloaddError(Exception):
    """Root of every error reloadd raises."""


class ProtocolError(ReloaddError):
    """A message did not follow the wire protocol."""

    def __init__(self, message: str, *, code: ErrorCode = ErrorCode.BAD_MESSAGE) -> None:
        super().__init__(message)
        self.code = code


class MessageTooLarge(ProtocolError):
    """A message is larger than the protocol allows."""

    def __init__(self, message: str) -> None:
        super().__init__(message, code=ErrorCode.TOO_LARGE)


class VersionMismatch(ProtocolError):
    """The peer speaks another protocol version."""

    def __init__(self, message: str) -> None:
        super().__init__(message, code=ErrorCode.VERSION_MISMATCH)


class EndpointError(ReloaddError):
    """The runtime folder or endpoint of a project cannot be used safely."""


class KeyFileError(EndpointError):
    """A CurveZMQ key file, key or allow-list of a network endpoint is missing, unsafe or unreadable."""


class DaemonError(ReloaddError):
    """Talking to the daemon failed."""


class DaemonNotRunning(DaemonError):
    """No daemon answers on the project's endpoint."""


class DaemonStartFailed(DaemonError):
    """A daemon was started in the background but never answered."""


class DaemonTimeout(DaemonError):
    """The daemon did not answer a request in time."""


class RequestRejected(DaemonError):
    """The daemon answered a request with an ``error`` reply."""

    def __init__(self, message: str, *, code: ErrorCode) -> None:
        super().__init__(message)
        self.code = code


class BackendError(ReloaddError):
    """A watch backend could not do what was asked."""


class WatchmanUnavailable(BackendError):
    """Watchman is missing, not answering, or refused a command."""
