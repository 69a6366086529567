"""The value types of message fields that plain ``int``, ``float`` and ``str`` do not say enough about.

Each is an ``Annotated`` alias, so type checkers (and ``docs/protocol.md``'s tables)
see a plain ``int``, ``float`` or ``str``, while the codec reads the metadata: a
:class:`Bounds` is checked when a message is decoded and before one is encoded
(a float must also be finite), and a :data:`TRUNCATE` string is shortened by the
encoder rather than refused.
"""

from __future__ import annotations

from typing import Annotated, Final

from reloadd.protocol.limits import (
    MAX_COUNT,
    MAX_HEARTBEAT,
    MAX_PID,
    MAX_PROTOCOL_VERSION,
    MAX_REQUEST_ID,
    MAX_TIMESTAMP,
    MIN_HEARTBEAT,
)


class Bounds:
    """The closed range ``low`` to ``high`` a number must lie in, and how the spec spells it."""

    __slots__ = ("high", "low", "spelled")

    def __init__(self, low: float, high: float, spelled: str) -> None:
        self.low = low
        self.high = high
        self.spelled = spelled
        """The range as ``docs/protocol.md`` writes it in the field's row, e.g. ``1 to `MAX_PID```."""

    def __contains__(self, value: float) -> bool:
        return self.low <= value <= self.high  # False for NaN, and for ±inf beyond either end

    def __repr__(self) -> str:
        return f"Bounds({self.low!r}, {self.high!r})"


class Truncate:
    """Marks a string for humans (an error's message): the encoder shortens it to fit."""

    def __repr__(self) -> str:
        return "TRUNCATE"


TRUNCATE: Final = Truncate()
"""The one :class:`Truncate` marker."""

RequestId = Annotated[int, Bounds(0, MAX_REQUEST_ID, "0 to `MAX_REQUEST_ID`")]
"""A request's ``id``, and the ``re`` of its reply."""

Count = Annotated[int, Bounds(0, MAX_COUNT, "0 to `MAX_COUNT`")]
"""How many of something a reply reports."""

Pid = Annotated[int, Bounds(1, MAX_PID, "1 to `MAX_PID`")]
"""A process id."""

Version = Annotated[int, Bounds(1, MAX_PROTOCOL_VERSION, "1 to `MAX_PROTOCOL_VERSION`")]
"""A protocol version number."""

UnixTime = Annotated[float, Bounds(0.0, MAX_TIMESTAMP, "0 to `MAX_TIMESTAMP`")]
"""A moment, in seconds since the Unix epoch."""

Heartbeat = Annotated[
    float, Bounds(MIN_HEARTBEAT, MAX_HEARTBEAT, "`MIN_HEARTBEAT` to `MAX_HEARTBEAT`")
]
"""The seconds between a client's ``ping``s."""

HumanText = Annotated[str, TRUNCATE]
"""Text for a human; the encoder cuts it to ``MAX_PATH_LENGTH`` characters."""
