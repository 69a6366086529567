"""Every value of a message is bounded: numbers, strings, arrays, maps and nesting, known field or not.

Also the direction of a message (``decode_request``/``decode_reply``), the lenient
``request_id``, and an ``encode`` that never produces what ``decode`` refuses.
"""

from __future__ import annotations

import math
import typing
from typing import Annotated, Any

import msgpack
import pytest

from reloadd.protocol import (
    MESSAGE_TYPES,
    PROTOCOL_VERSION,
    Bye,
    Changed,
    ClientInfo,
    Error,
    ErrorCode,
    EventsRead,
    Hello,
    Message,
    ProtocolError,
    Reply,
    Request,
    Side,
    StateReport,
    Status,
    Watch,
    decode,
    decode_reply,
    decode_request,
    encode,
    request_id,
)
from reloadd.protocol.fields import Bounds
from reloadd.protocol.limits import (
    MAX_MAP_ITEMS,
    MAX_NESTING_DEPTH,
    MAX_PATH_LENGTH,
    MAX_PATHS_PER_MESSAGE,
    MAX_PID,
)
from tests.unit.test_protocol import EXAMPLES, example, pack, refused, wire


def bounded_fields() -> list[tuple[type[Any], str, Bounds, type]]:
    """Every number field of every message (and of ``ClientInfo``) with its bounds."""
    found = []
    for cls in (*MESSAGE_TYPES, ClientInfo):
        for name, hint in typing.get_type_hints(cls, include_extras=True).items():
            if typing.get_origin(hint) is typing.Union:
                (hint,) = [arg for arg in typing.get_args(hint) if arg is not type(None)]
            if typing.get_origin(hint) is not Annotated:
                continue
            for bounds in [meta for meta in hint.__metadata__ if isinstance(meta, Bounds)]:
                found.append((cls, name, bounds, hint.__origin__))
    return found


BOUNDED = bounded_fields()


def with_field(cls: type[Any], name: str, value: object) -> bytes:
    """The wire form of the example of ``cls`` (a ``status_reply``'s client for ``ClientInfo``)."""
    if cls is ClientInfo:
        raw = wire(example(EXAMPLES_BY_TYPE["status_reply"]))
        raw["clients"][0][name] = value
        return pack(raw)
    return pack(wire(example(cls), **{name: value}))


EXAMPLES_BY_TYPE = {cls.TYPE: cls for cls in EXAMPLES}


def test_every_number_field_is_bounded() -> None:
    for cls in (*MESSAGE_TYPES, ClientInfo):
        plain = typing.get_type_hints(cls)
        bounded = {name for c, name, _, _ in BOUNDED if c is cls}
        for name, hint in plain.items():
            numeric = hint in (int, float) or hint == int | None
            assert not numeric or name in bounded, f"{cls.__name__}.{name} has no Bounds"


@pytest.mark.parametrize(
    ("cls", "name", "bounds", "kind"), BOUNDED, ids=[f"{c.__name__}.{n}" for c, n, _, _ in BOUNDED]
)
def test_numbers_out_of_bounds_are_a_bad_field(
    cls: type[Any], name: str, bounds: Bounds, kind: type
) -> None:
    low, high = kind(bounds.low), kind(bounds.high)
    assert type(decode(with_field(cls, name, low))) is not None
    assert type(decode(with_field(cls, name, high))) is not None
    outside: list[object] = [-(2**63), 2**64 - 1]
    if kind is int:
        outside += [low - 1, high + 1, 2**31, 2**63]
    else:
        outside += [math.nan, math.inf, -math.inf, -0.5, high * 2]
    for value in outside:
        if isinstance(value, float) and value in bounds:
            continue
        if isinstance(value, int) and bounds.low <= value <= bounds.high:
            continue
        error = refused(with_field(cls, name, value), ErrorCode.BAD_FIELD)
        assert name in str(error)
        assert len(str(error)) < 200


@pytest.mark.parametrize("pid", [0, -1, 2**31, 2**63, 2**64 - 1, MAX_PID + 1])
def test_a_hello_pid_must_fit_the_platform(pid: int) -> None:
    """A pid over a C int killed the daemon's housekeeping (``os.kill`` overflowed)."""
    error = refused(pack(wire(example(Hello), pid=pid)), ErrorCode.BAD_FIELD)
    assert "MAX_PID" in str(error)


def test_the_largest_pid_is_accepted() -> None:
    assert decode(pack(wire(example(Hello), pid=MAX_PID))) == Hello(
        id=1,
        protocol=PROTOCOL_VERSION,
        name="django runserver",
        pid=MAX_PID,
        role=example(Hello).role,
    )


def nested(depth: int, leaf: object = "server") -> object:
    value = leaf
    for _ in range(depth):
        value = [value]
    return value


def with_deep_field(raw: dict[str, Any], name: str, depth: int) -> bytes:
    """``raw`` packed with field ``name`` a string in ``depth`` one-item arrays (msgpack's own
    packer stops at 512 levels)."""
    data = pack({**raw, name: "@deep@"})
    return data.replace(pack("@deep@"), b"\x91" * depth + pack("server"))


@pytest.mark.parametrize("depth", [MAX_NESTING_DEPTH, 100, 1000])
def test_a_deeply_nested_field_is_refused_with_a_short_message(depth: int) -> None:
    """A ``role`` nested 1,000 deep raised RecursionError while the error was being built."""
    with pytest.raises(ProtocolError) as caught:
        decode(with_deep_field(wire(example(Hello)), "role", depth))
    assert caught.value.code in (ErrorCode.BAD_FIELD, ErrorCode.LIMIT_EXCEEDED)
    assert len(str(caught.value)) < 200


def test_nesting_is_capped_in_unknown_fields_too() -> None:
    deepest = nested(MAX_NESTING_DEPTH - 1, {"a": 1})  # the message map is level 1
    assert decode(pack({"type": "status", "id": 1, "future": nested(MAX_NESTING_DEPTH - 2)}))
    error = refused(pack({"type": "status", "id": 1, "future": deepest}), ErrorCode.LIMIT_EXCEEDED)
    assert "MAX_NESTING_DEPTH" in str(error)


def test_an_enum_error_never_renders_a_huge_value() -> None:
    error = refused(pack(wire(example(Hello), role="r" * MAX_PATH_LENGTH)), ErrorCode.BAD_FIELD)
    assert len(str(error)) < 200
    error = refused(pack(wire(example(Hello), role={"k": list(range(1000))})), ErrorCode.BAD_FIELD)
    assert len(str(error)) < 200


# -- every value, known field or not ----------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "code"),
    [
        ("s" * 1_000_000, ErrorCode.BAD_FIELD),  # refused by msgpack's own limit, cheaply
        ("s" * (MAX_PATH_LENGTH + 1), ErrorCode.BAD_FIELD),
        ("é" * (MAX_PATH_LENGTH + 1), ErrorCode.BAD_FIELD),
        (b"b" * (MAX_PATH_LENGTH + 1), ErrorCode.BAD_FIELD),
        (["/a"] * 100_000, ErrorCode.LIMIT_EXCEEDED),
        (["/a"] * (MAX_PATHS_PER_MESSAGE + 1), ErrorCode.LIMIT_EXCEEDED),
        ([1] * (MAX_PATHS_PER_MESSAGE + 1), ErrorCode.LIMIT_EXCEEDED),
        ({str(i): i for i in range(MAX_MAP_ITEMS + 1)}, ErrorCode.LIMIT_EXCEEDED),
        ([[["x" * (MAX_PATH_LENGTH + 1)]]], ErrorCode.BAD_FIELD),
        ([{"k": ["/a"] * (MAX_PATHS_PER_MESSAGE + 1)}], ErrorCode.LIMIT_EXCEEDED),
        ({"k" * (MAX_PATH_LENGTH + 1): 1}, ErrorCode.BAD_FIELD),  # a key is a string too
        (nested(MAX_NESTING_DEPTH, {}), ErrorCode.LIMIT_EXCEEDED),
    ],
    ids=[
        "1MB-str",
        "long-str",
        "long-utf8-str",
        "long-bin",
        "100k-list",
        "long-list",
        "long-int-list",
        "big-map",
        "nested-long-str",
        "nested-long-list",
        "long-key",
        "deep",
    ],
)
@pytest.mark.parametrize("cls", MESSAGE_TYPES, ids=lambda cls: cls.TYPE)
def test_an_unknown_field_obeys_the_limits(
    cls: type[Message], value: object, code: ErrorCode
) -> None:
    """An unknown field holding a 1 MB string still got a ``pong``."""
    refused(pack(wire(example(cls), future=value)), code)


def test_an_unknown_field_within_the_limits_is_ignored() -> None:
    fits = {
        "s": "s" * MAX_PATH_LENGTH,
        "l": ["/a"] * 1000,
        "m": {str(i): [i, None, 1.5, True, b"b"] for i in range(MAX_MAP_ITEMS - 1)},
        "n": nested(MAX_NESTING_DEPTH - 3),
    }
    assert decode(pack({"type": "status", "id": 1, "future": fits})) == Status(id=1)


def test_a_message_with_too_many_fields_is_refused() -> None:
    raw: dict[str, object] = {"type": "status", "id": 1}
    raw.update({f"f{i}": i for i in range(MAX_MAP_ITEMS - 2)})
    assert decode(pack(raw)) == Status(id=1)
    raw["one_more"] = 0
    refused(pack(raw), ErrorCode.LIMIT_EXCEEDED)


# -- direction --------------------------------------------------------------------------------

CLIENT_SENT = [cls for cls in MESSAGE_TYPES if cls.SENT_BY is Side.CLIENT]
DAEMON_SENT = [cls for cls in MESSAGE_TYPES if cls.SENT_BY is Side.DAEMON]


def test_every_message_type_says_who_sends_it() -> None:
    for cls in MESSAGE_TYPES:
        assert cls.SENT_BY is (
            Side.CLIENT
            if issubclass(cls, Request) or cls in (Bye, StateReport, EventsRead)
            else Side.DAEMON
        )
        assert not issubclass(cls, Reply) or cls.SENT_BY is Side.DAEMON
    assert {cls.TYPE for cls in DAEMON_SENT} == {
        "welcome", "watching", "changed", "noted", "status_reply", "pong", "stopping", "error",
        "subscribed", "event", "reloading", "restart",
    }  # fmt: skip


@pytest.mark.parametrize("cls", DAEMON_SENT, ids=lambda cls: cls.TYPE)
def test_a_daemon_only_message_sent_to_the_daemon_is_unexpected(cls: type[Message]) -> None:
    """Before its fields are looked at: ``{"type": "welcome"}`` was a ``bad_field``."""
    for raw in (wire(example(cls)), {"type": cls.TYPE}, {"type": cls.TYPE, "re": "x", "id": 3}):
        with pytest.raises(ProtocolError) as caught:
            decode_request(pack(raw))
        assert caught.value.code is ErrorCode.UNEXPECTED
        assert "only the daemon sends" in str(caught.value)
    assert decode_reply(encode(example(cls))) == example(cls)


@pytest.mark.parametrize("cls", CLIENT_SENT, ids=lambda cls: cls.TYPE)
def test_a_client_message_sent_to_a_client_is_unexpected(cls: type[Message]) -> None:
    with pytest.raises(ProtocolError) as caught:
        decode_reply(pack({"type": cls.TYPE}))
    assert caught.value.code is ErrorCode.UNEXPECTED
    assert decode_request(encode(example(cls))) == example(cls)


def test_decode_request_still_refuses_bad_input_with_its_own_code() -> None:
    with pytest.raises(ProtocolError) as caught:
        decode_request(pack({"type": "no_such", "id": 1}))
    assert caught.value.code is ErrorCode.UNKNOWN_TYPE
    with pytest.raises(ProtocolError) as caught:
        decode_request(pack({"type": "hello", "id": 1}))
    assert caught.value.code is ErrorCode.BAD_FIELD


# -- encode never sends what decode refuses ---------------------------------------------------


@pytest.mark.parametrize(
    "message",
    [
        Hello(id=1, protocol=PROTOCOL_VERSION, name="web", pid=0),
        Hello(id=1, protocol=PROTOCOL_VERSION, name="web", pid=2**31),
        Hello(id=-1, protocol=PROTOCOL_VERSION, name="web", pid=1),
        Hello(id=1, protocol=PROTOCOL_VERSION, name="", pid=1),
        Watch(id=1, since=math.nan),
        Watch(id=1, since=-1.0),
        Watch(id=1, files=("relative.py",)),
        Watch(id=1, files=("/" + "a" * MAX_PATH_LENGTH,)),
        Changed(paths=("/a",) * (MAX_PATHS_PER_MESSAGE + 1)),
        Changed(paths=("/\udcff.py",)),  # a lone surrogate (an undecodable file name)
    ],
    ids=repr,
)
def test_encode_refuses_what_decode_would(message: Message) -> None:
    with pytest.raises(ProtocolError) as caught:
        encode(message)
    assert "cannot send" in str(caught.value)


def test_encode_shortens_an_error_message_to_fit() -> None:
    error = Error(re=3, code=ErrorCode.BACKEND_FAILED, message="watchman: " + "x" * 20_000)
    decoded = decode(encode(error))
    assert isinstance(decoded, Error)
    assert len(decoded.message) == MAX_PATH_LENGTH
    assert decoded.message.startswith("watchman: xxx")
    assert decoded.message.endswith("…")


@pytest.mark.parametrize(
    "data",
    [
        pack({"type": "hello", "id": -5}),
        pack({"type": "hello", "id": 2**64 - 1}),
        pack({"type": "status", "id": 2**53}),
        pack({"type": "status", "id": 7, "x": msgpack.ExtType(3, b"")}),
        pack({"type": "welcome", "id": 8, "re": 1}),
        with_deep_field({"type": "status", "id": 9}, "x", 2000),
    ],
    ids=repr,
)
def test_an_error_reply_always_encodes(data: bytes) -> None:
    """The daemon answers ``Error(re=request_id(data), …)``: that must be a valid message."""
    with pytest.raises(ProtocolError) as caught:
        decode_request(data)
    reply = Error(re=request_id(data), code=caught.value.code, message=str(caught.value))
    assert decode_reply(encode(reply)) == reply


def test_request_id_reads_the_id_beside_an_extension_type() -> None:
    """The id was readable, yet the error reply said ``re: nil``."""
    data = pack({"type": "watch", "id": 21, "files": ["/a.py"], "x": msgpack.ExtType(1, b"z")})
    with pytest.raises(ProtocolError) as caught:
        decode_request(data)
    assert caught.value.code is ErrorCode.BAD_MESSAGE
    assert request_id(data) == 21
