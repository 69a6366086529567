"""Property-based tests of the codec: whatever the bytes, ``decode`` returns a valid message or
raises ``ProtocolError``, and ``encode`` of any valid message is read back unchanged.

Each test is bounded by ``max_examples`` so the whole file runs in a few seconds.
"""

from __future__ import annotations

import math
import types
import typing
from enum import Enum
from typing import Annotated, Any

import msgpack
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reloadd.protocol import (
    MESSAGE_TYPES,
    Crash,
    ErrorCode,
    GlobSpec,
    Hello,
    Message,
    ProtocolError,
    Saved,
    ServerState,
    Side,
    StateReport,
    Unwatch,
    Watch,
    decode,
    decode_reply,
    decode_request,
    encode,
    record,
    request_id,
)
from reloadd.protocol.fields import Bounds
from reloadd.protocol.limits import (
    MAX_NAME_LENGTH,
    MAX_NESTING_DEPTH,
    MAX_PATH_LENGTH,
    MAX_PATHS_PER_MESSAGE,
    MAX_PID,
    MAX_REQUEST_ID,
)
from tests.unit.test_protocol import example, pack, wire

FUZZ = settings(
    database=None,
    deadline=None,
    max_examples=150,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def read_back(data: bytes) -> None:
    """The property: each reader returns a valid message that re-encodes, or a ProtocolError."""
    for read, side in ((decode, None), (decode_request, Side.CLIENT), (decode_reply, Side.DAEMON)):
        try:
            message = read(data)
        except ProtocolError as exc:
            refusal: ProtocolError | None = exc
        else:
            refusal = None
        if refusal is not None:
            assert isinstance(refusal.code, ErrorCode)
            assert len(str(refusal)) < 1000, "an error message must stay short"
            continue
        assert side is None or message.SENT_BY is side
        assert decode(encode(message)) == message
    found = request_id(data)
    assert found is None or (type(found) is int and 0 <= found <= MAX_REQUEST_ID)


# -- hostile values -----------------------------------------------------------------------------

EDGE_INTS = [0, -1, 1, 2**31 - 1, 2**31, 2**53 - 1, 2**53, 2**63 - 1, 2**63, 2**64 - 1, -(2**63)]
EDGE_INTS += [MAX_PID, MAX_PID + 1]
LONG_STRINGS = ["x" * MAX_PATH_LENGTH, "/" * (MAX_PATH_LENGTH + 1), "é" * (MAX_PATH_LENGTH + 1)]

leaves = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.sampled_from(EDGE_INTS)
    | st.floats()  # NaN and ±inf included
    | st.sampled_from([math.nan, math.inf, -math.inf, -0.0, 1e308])
    | st.text(max_size=20)
    | st.sampled_from(["", "/", "/a/b.py", "*.py", "**", "server", "editor", "bad_field", "\0"])
    | st.sampled_from(LONG_STRINGS)
    | st.binary(max_size=8)
    | st.builds(msgpack.ExtType, st.integers(0, 127), st.binary(max_size=4))
    | st.builds(msgpack.Timestamp, st.integers(0, 2**32 - 1))
)


def deep(depth: int, leaf: object, as_map: bool) -> object:
    value = leaf
    for _ in range(depth):
        value = {"k": value} if as_map else [value]
    return value


values = st.recursive(
    leaves,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
) | st.builds(deep, st.integers(0, MAX_NESTING_DEPTH + 4), leaves, st.booleans())
big = st.sampled_from(
    [
        ["/a.py"] * (MAX_PATHS_PER_MESSAGE + 1),
        {str(i): i for i in range(300)},
        "s" * 100_000,
    ]
)


@FUZZ
@given(st.binary(max_size=1024))
def test_arbitrary_bytes(data: bytes) -> None:
    read_back(data)


@FUZZ
@given(st.sampled_from(MESSAGE_TYPES), st.data())
def test_valid_messages_with_bytes_flipped_cut_or_inserted(
    cls: type[Message], data: st.DataObject
) -> None:
    raw = bytearray(encode(example(cls)))
    for _ in range(data.draw(st.integers(1, 4))):
        where = data.draw(st.integers(0, len(raw)))
        action = data.draw(st.sampled_from(["flip", "cut", "insert"]))
        if action == "flip" and where < len(raw):
            raw[where] = data.draw(st.integers(0, 255))
        elif action == "cut":
            del raw[where:]
        else:
            raw[where:where] = data.draw(st.binary(min_size=1, max_size=4))
    read_back(bytes(raw))


@FUZZ
@given(values)
def test_arbitrary_msgpack_values(value: object) -> None:
    read_back(pack(value))


@FUZZ
@given(st.sampled_from(MESSAGE_TYPES), st.data())
def test_mutated_valid_messages(cls: type[Message], data: st.DataObject) -> None:
    """Drop fields, add fields, give fields hostile values (numbers, strings, nesting, ext)."""
    raw = wire(example(cls))
    depth = 0
    for _ in range(data.draw(st.integers(1, 4))):
        action = data.draw(st.sampled_from(["drop", "add", "replace", "replace", "big", "deep"]))
        names = sorted(raw)
        if action == "drop" and names:
            del raw[data.draw(st.sampled_from(names))]
        elif action == "add":
            raw[data.draw(st.text(max_size=10))] = data.draw(values)
        elif action == "replace" and names:
            raw[data.draw(st.sampled_from(names))] = data.draw(values)
        elif action == "big":
            raw[data.draw(st.sampled_from([*names, "future"]))] = data.draw(big)
        elif action == "deep" and not depth:  # deeper than msgpack's packer goes: spliced in
            raw[data.draw(st.sampled_from([*names, "future"]))] = "@deep@"
            depth = data.draw(st.sampled_from([MAX_NESTING_DEPTH, 600, 1000, 3000]))
    encoded = pack(raw)
    if depth:
        encoded = encoded.replace(pack("@deep@"), b"\x91" * depth + pack("server"))
    read_back(encoded)


@FUZZ
@given(st.sampled_from(MESSAGE_TYPES), st.data())
def test_every_message_type_sent_the_wrong_way(cls: type[Message], data: st.DataObject) -> None:
    raw = wire(example(cls))
    if data.draw(st.booleans()):
        raw = {"type": cls.TYPE, **data.draw(st.dictionaries(st.text(max_size=5), values))}
    wrong = decode_reply if cls.SENT_BY is Side.CLIENT else decode_request
    with pytest.raises(ProtocolError) as caught:
        wrong(pack(raw))
    # The direction is checked before any field: only bytes msgpack refuses come first.
    assert caught.value.code in (
        ErrorCode.UNEXPECTED,
        ErrorCode.BAD_MESSAGE,
        ErrorCode.LIMIT_EXCEEDED,
    )


# -- valid messages round-trip ----------------------------------------------------------------

absolute = st.text(
    alphabet=st.characters(exclude_characters="\0", exclude_categories=["Cs"]), max_size=40
).map(lambda text: "/" + text)
patterns = st.sampled_from(["*", "**", "**/*.py", "a/**/b", "[ab]?.txt", "x/./y", "**/LC_*/*.mo"])
globs = st.lists(st.builds(GlobSpec, absolute, patterns), max_size=4).map(tuple)
paths = st.lists(absolute, max_size=8).map(tuple)

OVERRIDES: dict[tuple[type[Any], str], st.SearchStrategy[Any]] = {
    (Hello, "name"): st.text(min_size=1, max_size=MAX_NAME_LENGTH),
    (Watch, "files"): paths,
    (Watch, "globs"): globs,
    (Unwatch, "files"): paths,
    (Unwatch, "globs"): globs,
    (Saved, "paths"): paths,
}


def strategy(hint: Any) -> st.SearchStrategy[Any]:
    """Any valid value of a field with this type hint."""
    origin = typing.get_origin(hint)
    if origin is Annotated:
        found = [meta for meta in hint.__metadata__ if isinstance(meta, Bounds)]
        if not found:
            return strategy(hint.__origin__)
        (bounds,) = found
        if hint.__origin__ is int:
            return st.integers(int(bounds.low), int(bounds.high))
        return st.floats(bounds.low, bounds.high)
    if origin in (typing.Union, types.UnionType):
        (inner,) = [arg for arg in typing.get_args(hint) if arg is not type(None)]
        return st.none() | strategy(inner)
    if origin is tuple:
        return st.lists(strategy(typing.get_args(hint)[0]), max_size=5).map(tuple)
    if isinstance(hint, type) and issubclass(hint, Enum):
        return st.sampled_from(list(hint))
    if isinstance(hint, type) and issubclass(hint, record.Record):  # ClientInfo, Crash
        return messages_of(hint)
    simple: dict[Any, st.SearchStrategy[Any]] = {
        str: st.text(max_size=60),
        bool: st.booleans(),
    }
    return simple[hint]


def messages_of(cls: type[Any]) -> st.SearchStrategy[Any]:
    if cls is StateReport:  # an error goes with "crashed", and only with it
        return _messages_of(cls).map(
            lambda report: StateReport(
                state=report.state,
                error=(report.error or Crash("E", "m"))
                if report.state is ServerState.CRASHED
                else None,
                duration_ms=report.duration_ms,
            )
        )
    return _messages_of(cls)


def _messages_of(cls: type[Any]) -> st.SearchStrategy[Any]:
    hints = typing.get_type_hints(cls, include_extras=True)
    return st.fixed_dictionaries(
        {
            field.name: OVERRIDES[cls, field.name]
            if (cls, field.name) in OVERRIDES
            else strategy(hints[field.name])
            for field in record.fields(cls)
        }
    ).map(lambda kwargs: cls(**kwargs))


@FUZZ
@given(st.sampled_from(MESSAGE_TYPES).flatmap(messages_of))
def test_every_valid_message_round_trips(message: Message) -> None:
    """What ``encode`` sends, the other side's reader accepts, unchanged."""
    data = encode(message)
    assert decode(data) == message
    read = decode_request if message.SENT_BY is Side.CLIENT else decode_reply
    assert read(data) == message
    assert request_id(data) == getattr(message, "id", None)
