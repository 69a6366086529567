"""The codec in memory: every message round-trips, and every bad input is refused with its code."""

from __future__ import annotations

from typing import Any, TypeVar

import msgpack
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reloadd.protocol import (
    MESSAGE_TYPES,
    PROTOCOL_VERSION,
    Bye,
    Changed,
    ClientInfo,
    Crash,
    Error,
    ErrorCode,
    Event,
    EventKind,
    EventsRead,
    GlobSpec,
    Hello,
    Message,
    MessageTooLarge,
    Noted,
    Ping,
    Pong,
    ProtocolError,
    Reload,
    ReloadInfo,
    Reloading,
    Restart,
    Role,
    Saved,
    ServerState,
    StateReport,
    Status,
    StatusReply,
    Stop,
    Stopping,
    Subscribe,
    Subscribed,
    Unwatch,
    Watch,
    Watching,
    Welcome,
    decode,
    decode_as,
    encode,
    record,
    request_id,
)
from reloadd.protocol.limits import (
    MAX_MESSAGE_BYTES,
    MAX_NAME_LENGTH,
    MAX_PATH_LENGTH,
    MAX_PATHS_PER_MESSAGE,
    MAX_REQUEST_ID,
    MAX_TIMESTAMP,
)

M = TypeVar("M", bound=Message)

FUZZ = settings(database=None, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# One representative of each message type, every field set to a value other than its default.
EXAMPLES: dict[type[Message], Message] = {
    Hello: Hello(
        id=1,
        protocol=PROTOCOL_VERSION,
        name="django runserver",
        pid=4242,
        role=Role.EDITOR,
    ),
    Welcome: Welcome(
        re=1,
        protocol=PROTOCOL_VERSION,
        instance="9f3c2a7be01d4c55",
        root="/home/me/proj",
        backend="watchman",
        pid=4100,
        heartbeat=0.5,
    ),
    Watch: Watch(
        id=2,
        files=("/home/me/proj/manage.py", "/home/me/proj/app/vues/é.py"),
        globs=(
            GlobSpec("/home/me/proj/templates", "**/*.html"),
            GlobSpec("/home/me/proj/locale", "**/LC_MESSAGES/*.mo"),
        ),
        since=1732436000.25,
    ),
    Unwatch: Unwatch(
        id=3,
        files=("/home/me/proj/manage.py",),
        globs=(GlobSpec("/home/me/proj/templates", "**/*.html"),),
    ),
    Watching: Watching(re=2, files=2, globs=2),
    Changed: Changed(
        paths=("/home/me/proj/manage.py", "/home/me/proj/a b.py"), truncated=True, at=1732436042.5
    ),
    Saved: Saved(id=7, paths=("/home/me/proj/app/views.py", "/home/me/proj/templates/é.html")),
    Noted: Noted(re=7, notified=2, recorded=1),
    StateReport: StateReport(
        state=ServerState.CRASHED,
        error=Crash("SyntaxError", "invalid syntax", "/home/me/proj/app/views.py", 12),
        duration_ms=431,
    ),
    Subscribe: Subscribe(id=8),
    Subscribed: Subscribed(
        re=8,
        clients=(
            ClientInfo(
                "web",
                4242,
                Role.SERVER,
                1200,
                3,
                1732436000.5,
                state=ServerState.READY,
                state_since=1732436042.75,
                last_reload=ReloadInfo(1732436042.32, 430, ("/home/me/proj/app/views.py",)),
            ),
        ),
    ),
    Event: Event(
        event=EventKind.STATE,
        time=1732436042.75,
        paths=("/home/me/proj/app/views.py",),
        omitted=3,
        clients=("web",),
        client="web",
        pid=4242,
        role=Role.SERVER,
        state=ServerState.READY,
        duration_ms=430,
        error=Crash("NameError", "name 'x' is not defined"),
        dropped=7,
        seq=5,
    ),
    EventsRead: EventsRead(seq=12),
    Reload: Reload(id=9, name="web"),
    Reloading: Reloading(re=9, clients=("web",)),
    Restart: Restart(by="nvim"),
    Status: Status(id=4),
    StatusReply: StatusReply(
        re=4,
        root="/home/me/proj",
        endpoint="ipc:///run/user/1000/reloadd/5d2f0c8e1b7a9346.sock",
        pid=4100,
        backend="builtin",
        protocol=PROTOCOL_VERSION,
        instance="9f3c2a7be01d4c55",
        started_at=1732435000.5,
        watched_roots=("/home/me/proj", "/usr/lib/python3/site-packages/x"),
        clients=(
            ClientInfo("web", 4242, Role.SERVER, 1200, 3, 1732436000.5),
            ClientInfo("vim", 5000, Role.EDITOR, 0, 0, 1732436001.0, connected=False),
        ),
    ),
    Ping: Ping(id=6),
    Pong: Pong(re=6, instance="9f3c2a7be01d4c55", registered=False),
    Stop: Stop(id=5),
    Stopping: Stopping(re=5),
    Bye: Bye(),
    Error: Error(re=None, code=ErrorCode.LIMIT_EXCEEDED, message="too many globs"),
}


def case_id(value: object) -> str:
    """A short test id: message types by their wire name, values by their repr."""
    if isinstance(value, type) and issubclass(value, Message):
        return value.TYPE
    return repr(value)[:40]


def example(cls: type[M]) -> M:
    if cls not in EXAMPLES:
        pytest.fail(f"no example of {cls.__name__} in EXAMPLES: add one")
    message = EXAMPLES[cls]
    assert isinstance(message, cls)
    return message


def wire(message: Message, /, **changes: Any) -> dict[str, Any]:
    """The map a message is on the wire, with some fields changed."""
    raw: dict[str, Any] = msgpack.unpackb(encode(message))
    raw.update(changes)
    return raw


def pack(raw: object) -> bytes:
    return msgpack.packb(raw)  # type: ignore[no-any-return]


def refused(data: bytes, code: ErrorCode) -> ProtocolError:
    with pytest.raises(ProtocolError) as caught:
        decode(data)
    assert caught.value.code is code, str(caught.value)
    return caught.value


def watch(**changes: Any) -> bytes:
    return pack(wire(Watch(id=9), **changes))


def hello(**changes: Any) -> bytes:
    return pack(wire(example(Hello), **changes))


def saved(**changes: Any) -> bytes:
    return pack(wire(example(Saved), **changes))


def test_every_message_type_has_an_example() -> None:
    assert set(EXAMPLES) == set(MESSAGE_TYPES)
    assert len({cls.TYPE for cls in MESSAGE_TYPES}) == len(MESSAGE_TYPES)


@pytest.mark.parametrize("cls", MESSAGE_TYPES, ids=lambda cls: cls.TYPE)
def test_round_trip(cls: type[Message]) -> None:
    message = example(cls)
    data = encode(message)
    assert decode(data) == message
    assert type(decode_as(data, cls)) is cls


@pytest.mark.parametrize("cls", MESSAGE_TYPES, ids=lambda cls: cls.TYPE)
def test_wire_form_is_a_plain_map_with_type_first(cls: type[Message]) -> None:
    raw = msgpack.unpackb(encode(example(cls)))
    assert next(iter(raw)) == "type"
    assert raw["type"] == cls.TYPE
    assert set(raw) == {"type", *(field.name for field in record.fields(cls))}


def test_enums_and_nested_values_are_plain_on_the_wire() -> None:
    raw = msgpack.unpackb(encode(example(StatusReply)))
    assert raw["clients"][0] == {
        "name": "web",
        "pid": 4242,
        "role": "server",
        "files": 1200,
        "globs": 3,
        "connected_at": 1732436000.5,
        "connected": True,
        "state": None,
        "state_since": 0.0,
        "last_reload": None,
        "last_error": None,
        "last_error_at": 0.0,
    }
    assert raw["clients"][1]["connected"] is False
    assert msgpack.unpackb(encode(example(Watch)))["globs"][0] == [
        "/home/me/proj/templates",
        "**/*.html",
    ]
    assert msgpack.unpackb(encode(example(Error)))["code"] == "limit_exceeded"


@pytest.mark.parametrize("cls", MESSAGE_TYPES, ids=lambda cls: cls.TYPE)
def test_missing_optional_fields_take_their_defaults(cls: type[Message]) -> None:
    raw = wire(example(cls))
    if cls is StateReport:  # without its error, the example's "crashed" would be refused
        raw["state"] = ServerState.READY.value
    optional = [f for f in record.fields(cls) if f.default is not record.MISSING]
    for field in optional:
        del raw[field.name]
    decoded = decode(pack(raw))
    for field in optional:
        assert getattr(decoded, field.name) == field.default


@pytest.mark.parametrize("cls", MESSAGE_TYPES, ids=lambda cls: cls.TYPE)
def test_unknown_fields_are_ignored(cls: type[Message]) -> None:
    raw = wire(example(cls), future={"nested": [1, 2.5, None, b"bytes"]}, zz_extra="x")
    assert decode(pack(raw)) == example(cls)


def test_an_int_is_accepted_for_a_float() -> None:
    decoded = decode_as(watch(since=17), Watch)
    assert decoded == Watch(id=9, since=17.0)
    assert type(decoded.since) is float


def test_error_re_may_be_nil_or_an_id() -> None:
    assert decode_as(pack(wire(example(Error), re=None)), Error).re is None
    assert decode_as(pack(wire(example(Error), re=12)), Error).re == 12


def test_decode_as_refuses_another_type() -> None:
    with pytest.raises(ProtocolError) as caught:
        decode_as(encode(Status(id=1)), Welcome)
    assert caught.value.code is ErrorCode.UNEXPECTED


# -- not a message at all ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\xc1",  # a byte msgpack never uses
        b"\x82\xa4type",  # cut short
        b"\xdb\xff\xff\xff\xff",  # a 4 GiB string announced, absent
        b"\x81\xa4type\xa2\xff\xfe",  # a str that is not UTF-8
        pack({"type": "status", "id": 1}) + b"\x00",  # a second object after the map
        pack({"type": "status", "id": 1, 3: "int key"}),
        b"GET / HTTP/1.1\r\n\r\n",
    ],
    ids=["empty", "c1", "truncated", "huge-str", "bad-utf8", "extra-data", "int-key", "http"],
)
def test_non_msgpack_bytes_are_a_bad_message(data: bytes) -> None:
    refused(data, ErrorCode.BAD_MESSAGE)


def test_nesting_too_deep_for_msgpack_exceeds_the_limit() -> None:
    head = pack({"type": "status", "id": 1})
    deep = bytes([head[0] + 1]) + head[1:] + b"\xa1x" + b"\x91" * 5000 + b"\x00"
    error = refused(deep, ErrorCode.LIMIT_EXCEEDED)
    assert "MAX_NESTING_DEPTH" in str(error)


@pytest.mark.parametrize("value", [[1, 2], "status", 7, None, True, b"\x81"], ids=repr)
def test_msgpack_that_is_not_a_map_is_a_bad_message(value: object) -> None:
    refused(pack(value), ErrorCode.BAD_MESSAGE)


@pytest.mark.parametrize(
    "raw",
    [
        {"id": 1},
        {"type": None, "id": 1},
        {"type": 1, "id": 1},
        {"type": b"status", "id": 1},
        {"type": ["status"], "id": 1},
        {b"type": "status", "id": 1},
    ],
    ids=["missing", "nil", "int", "bin", "list", "bin-key"],
)
def test_a_missing_or_non_string_type_is_a_bad_message(raw: dict[Any, Any]) -> None:
    refused(pack(raw), ErrorCode.BAD_MESSAGE)


@pytest.mark.parametrize("kind", ["", "Hello", "execute_request", "message", "x" * 5000])
def test_an_unknown_type_is_refused(kind: str) -> None:
    error = refused(pack({"type": kind, "id": 1}), ErrorCode.UNKNOWN_TYPE)
    assert len(str(error)) < 200


# -- fields -----------------------------------------------------------------------------------

REQUIRED = [
    (cls, field.name)
    for cls in MESSAGE_TYPES
    for field in record.fields(cls)
    if field.default is record.MISSING
]


@pytest.mark.parametrize(("cls", "name"), REQUIRED, ids=[f"{c.TYPE}.{n}" for c, n in REQUIRED])
def test_a_missing_required_field_is_a_bad_field(cls: type[Message], name: str) -> None:
    raw = wire(example(cls))
    del raw[name]
    error = refused(pack(raw), ErrorCode.BAD_FIELD)
    assert repr(name) in str(error)


@pytest.mark.parametrize(
    ("cls", "name", "value"),
    [
        (Hello, "id", True),  # a bool is not an int
        (Hello, "id", False),
        (Hello, "pid", 1.0),
        (Hello, "id", "1"),
        (Hello, "id", None),
        (Hello, "name", 5),  # an int is not a str
        (Hello, "name", b"web"),  # nor is bin
        (Hello, "name", ["web"]),
        (Hello, "role", 1),
        (Welcome, "heartbeat", True),  # a bool is not a float
        (Welcome, "heartbeat", "2"),
        (Welcome, "heartbeat", None),
        (Changed, "truncated", 1),  # an int is not a bool
        (Changed, "truncated", None),
        (Changed, "paths", "/a.py"),  # a str is not a list
        (Changed, "paths", {"/a.py": 1}),
        (Changed, "paths", [1]),
        (Changed, "at", False),
        (Changed, "at", "1732436042.5"),
        (Changed, "at", None),
        (Saved, "paths", "/home/me/proj/app.py"),  # a str is not a list
        (Saved, "paths", None),
        (Saved, "paths", [1]),
        (Saved, "paths", [b"/home/me/proj/app.py"]),
        (Saved, "paths", [["/home/me/proj/app.py"]]),
        (Saved, "paths", {"/home/me/proj/app.py": 1}),
        (Saved, "id", None),
        (Noted, "notified", True),
        (Noted, "notified", 1.0),
        (Noted, "recorded", None),
        (Watch, "since", True),
        (Watch, "since", "now"),
        (Watch, "since", None),
        (Watch, "since", [1732436000.25]),
        (Watch, "files", "/a.py"),
        (Watch, "files", [["/a.py"]]),
        (Watch, "globs", "/a/**"),
        (Watch, "globs", ["/a/**"]),  # a glob is a pair, not a string
        (Watch, "globs", [["/a"]]),
        (Watch, "globs", [["/a", "*", "x"]]),
        (Watch, "globs", [[1, "*"]]),
        (Watch, "globs", [["/a", None]]),
        (Watch, "globs", [{"directory": "/a", "pattern": "*"}]),
        (Watch, "globs", [[["/a", "*"]]]),
        (StatusReply, "clients", [["web", 1, "server", 1, 1, 1.0]]),
        (StatusReply, "clients", [{"name": "web"}]),
        (StatusReply, "watched_roots", [None]),
        (
            StatusReply,
            "clients",
            [{**record.as_dict(example(StatusReply).clients[0]), "connected": 1}],
        ),
        (
            StatusReply,
            "clients",
            [{**record.as_dict(example(StatusReply).clients[0]), "connected": None}],
        ),
        (Ping, "id", True),
        (Ping, "id", 6.0),
        (Pong, "re", None),
        (Pong, "instance", None),
        (Pong, "instance", b"9f3c"),
        (Pong, "registered", 0),  # an int is not a bool
        (Pong, "registered", "false"),
        (Pong, "registered", None),
        (Error, "re", "1"),
        (Error, "code", None),
        (Error, "message", None),
    ],
    ids=case_id,
)
def test_a_wrongly_typed_field_is_a_bad_field(cls: type[Message], name: str, value: object) -> None:
    refused(pack(wire(example(cls), **{name: value})), ErrorCode.BAD_FIELD)


@pytest.mark.parametrize(
    ("cls", "name", "value"),
    [
        (Hello, "role", "admin"),
        (Hello, "role", "SERVER"),
        (Error, "code", "no_such_code"),
        (
            StatusReply,
            "clients",
            [{**record.as_dict(example(StatusReply).clients[0]), "role": "root"}],
        ),
    ],
    ids=["role", "role-case", "code", "nested-role"],
)
def test_an_unknown_enum_value_is_a_bad_field(cls: type[Message], name: str, value: object) -> None:
    refused(pack(wire(example(cls), **{name: value})), ErrorCode.BAD_FIELD)


@pytest.mark.parametrize(
    "changes",
    [
        {"files": ["app/views.py"]},
        {"files": [""]},
        {"files": ["~/proj/a.py"]},
        {"files": ["/ok.py", "./a.py"]},
        {"globs": [["templates", "**/*"]]},
        {"globs": [["", "**/*"]]},
    ],
    ids=repr,
)
def test_relative_paths_are_a_bad_field(changes: dict[str, Any]) -> None:
    refused(watch(**changes), ErrorCode.BAD_FIELD)
    refused(pack(wire(Unwatch(id=1), **changes)), ErrorCode.BAD_FIELD)


@pytest.mark.parametrize(
    "changes",
    [
        {"files": ["/app/a\0.py"]},
        {"globs": [["/app/templ\0ates", "*"]]},
        {"globs": [["/app", "*.py\0"]]},
    ],
    ids=["file", "glob-directory", "glob-pattern"],
)
def test_nul_bytes_in_paths_are_a_bad_field(changes: dict[str, Any]) -> None:
    refused(watch(**changes), ErrorCode.BAD_FIELD)


@pytest.mark.parametrize(
    "paths",
    [["app/views.py"], [""], ["~/proj/a.py"], ["/ok.py", "./a.py"], ["C:\\proj\\a.py"]],
    ids=repr,
)
def test_saved_refuses_relative_paths(paths: list[str]) -> None:
    error = refused(saved(paths=paths), ErrorCode.BAD_FIELD)
    assert "saved files must be absolute paths" in str(error)


def test_saved_refuses_nul_bytes_and_overlong_paths() -> None:
    refused(saved(paths=["/app/a\0.py"]), ErrorCode.BAD_FIELD)
    longest = "/" + "a" * (MAX_PATH_LENGTH - 1)
    assert decode_as(saved(paths=[longest]), Saved).paths == (longest,)
    refused(saved(paths=[longest + "a"]), ErrorCode.BAD_FIELD)


def test_saved_may_report_no_paths_and_needs_its_id() -> None:
    assert decode(saved(paths=[])) == Saved(id=7, paths=())
    raw = wire(example(Saved))
    del raw["id"]
    refused(pack(raw), ErrorCode.BAD_FIELD)


@pytest.mark.parametrize(
    "pattern", ["", "/", "/abs/*.py", ".", "./", "//", "x" * (MAX_NAME_LENGTH + 1)]
)
def test_empty_absolute_or_overlong_glob_patterns_are_a_bad_field(pattern: str) -> None:
    refused(watch(globs=[["/app", pattern]]), ErrorCode.BAD_FIELD)
    refused(pack(wire(Unwatch(id=1), globs=[["/app", pattern]])), ErrorCode.BAD_FIELD)


def test_a_glob_pattern_of_the_longest_length_is_accepted() -> None:
    pattern = "a/" * (MAX_NAME_LENGTH // 2 - 1) + "*"
    assert len(pattern) <= MAX_NAME_LENGTH
    assert decode(watch(globs=[["/app", pattern]])) == Watch(
        id=9, globs=(GlobSpec("/app", pattern),)
    )


def test_strings_longer_than_the_path_limit_are_a_bad_field() -> None:
    longest = "/" + "a" * (MAX_PATH_LENGTH - 1)
    assert decode(watch(files=[longest])) == Watch(id=9, files=(longest,))
    refused(watch(files=[longest + "a"]), ErrorCode.BAD_FIELD)
    refused(pack(wire(example(Welcome), instance="i" * (MAX_PATH_LENGTH + 1))), ErrorCode.BAD_FIELD)
    refused(pack(wire(example(Error), message="m" * (MAX_PATH_LENGTH + 1))), ErrorCode.BAD_FIELD)


def test_a_client_name_must_be_short_and_not_empty() -> None:
    assert decode_as(hello(name="n" * MAX_NAME_LENGTH), Hello).name == "n" * MAX_NAME_LENGTH
    refused(hello(name="n" * (MAX_NAME_LENGTH + 1)), ErrorCode.BAD_FIELD)
    refused(hello(name=""), ErrorCode.BAD_FIELD)


@pytest.mark.parametrize("pid", [0, -1])
def test_a_pid_must_be_positive(pid: int) -> None:
    refused(hello(pid=pid), ErrorCode.BAD_FIELD)


def test_too_many_items_exceed_the_limit() -> None:
    files = [f"/p/{i}" for i in range(MAX_PATHS_PER_MESSAGE)]
    assert len(decode_as(watch(files=files), Watch).files) == MAX_PATHS_PER_MESSAGE
    refused(watch(files=[*files, "/p/x"]), ErrorCode.LIMIT_EXCEEDED)
    globs = [["/p", "*"]] * (MAX_PATHS_PER_MESSAGE + 1)
    refused(watch(globs=globs), ErrorCode.LIMIT_EXCEEDED)
    refused(pack({"type": "changed", "paths": [*files, "/p/x"]}), ErrorCode.LIMIT_EXCEEDED)
    assert len(decode_as(saved(paths=files), Saved).paths) == MAX_PATHS_PER_MESSAGE
    refused(saved(paths=[*files, "/p/x"]), ErrorCode.LIMIT_EXCEEDED)


# -- size and extension types -----------------------------------------------------------------


def padded_status(size: int) -> bytes:
    """A valid ``status`` of exactly ``size`` bytes, padded with strings in an unknown field."""
    longest = "x" * MAX_PATH_LENGTH
    for full in range(size // len(pack(longest)) + 1, 0, -1):
        # The padding's last string is empty here: find the length that makes up the rest.
        base = len(pack({"type": "status", "id": 1, "pad": [*[longest] * (full - 1), ""]}))
        for rest in range(MAX_PATH_LENGTH + 1):
            if base - 1 + len(pack("x" * rest)) == size:
                pad = [*[longest] * (full - 1), "x" * rest]
                data = pack({"type": "status", "id": 1, "pad": pad})
                assert len(data) == size
                return data
    raise AssertionError(f"no padding gives {size} bytes")


def test_a_message_of_the_largest_size_is_accepted() -> None:
    assert decode(padded_status(MAX_MESSAGE_BYTES)) == Status(id=1)


def test_decode_refuses_a_message_over_the_size_limit() -> None:
    error = refused(padded_status(MAX_MESSAGE_BYTES + 1), ErrorCode.TOO_LARGE)
    assert isinstance(error, MessageTooLarge)
    refused(b"\xc1" * (MAX_MESSAGE_BYTES + 1), ErrorCode.TOO_LARGE)
    assert request_id(padded_status(MAX_MESSAGE_BYTES + 1)) == 1


def test_encode_refuses_a_message_over_the_size_limit() -> None:
    path = "/" + "p" * (MAX_PATH_LENGTH - 10)
    count = MAX_MESSAGE_BYTES // len(path) + 1
    message = Watch(id=1, files=tuple(f"{path}{i:08}" for i in range(count)))
    with pytest.raises(MessageTooLarge) as caught:
        encode(message)
    assert caught.value.code is ErrorCode.TOO_LARGE
    assert "fewer paths" in str(caught.value)


@pytest.mark.parametrize(
    "raw",
    [
        {"type": "status", "id": 1, "x": msgpack.ExtType(5, b"data")},
        {"type": "status", "id": msgpack.ExtType(1, b"\x01")},
        {"type": msgpack.ExtType(0, b"status"), "id": 1},
        {"type": "watch", "id": 1, "files": [msgpack.ExtType(127, b"")]},
    ],
    ids=["unknown-field", "id", "type", "nested"],
)
def test_msgpack_extension_types_are_a_bad_message(raw: dict[str, Any]) -> None:
    error = refused(pack(raw), ErrorCode.BAD_MESSAGE)
    assert "extension" in str(error)


def test_a_timestamp_extension_is_refused_like_any_other() -> None:
    # msgpack decodes its predefined timestamp type (-1) itself, without the ext hook.
    for data in (
        pack({"type": "status", "id": msgpack.Timestamp(1, 0)}),
        watch(since=msgpack.Timestamp(1, 0)),
        pack({"type": "status", "id": 1, "future": [{"at": msgpack.Timestamp(1, 0)}]}),
    ):
        assert "extension" in str(refused(data, ErrorCode.BAD_MESSAGE))


# -- request_id -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (pack({"type": "watch", "id": 7, "files": "not a list"}), 7),
        (pack({"type": "no_such_type", "id": 8}), 8),
        (pack({"id": 9}), 9),
        (pack({"type": "status", "id": 10, 3: "int key"}), 10),
        (pack({"type": "status", "id": 0}), 0),
        (pack({"type": "status", "id": MAX_REQUEST_ID}), MAX_REQUEST_ID),
        (pack({"type": "status", "id": -3}), None),  # not a valid id: an error may not carry it
        (pack({"type": "status", "id": MAX_REQUEST_ID + 1}), None),
        (pack({"type": "status", "id": 2**64 - 1}), None),
        (pack({"type": "status", "id": True}), None),
        (pack({"type": "status", "id": "11"}), None),
        (pack({"type": "status", "id": 1.0}), None),
        (pack({"type": "status"}), None),
        (pack([{"id": 12}]), None),
        (pack({"id": 13, "x": msgpack.ExtType(1, b"")}), 13),  # an extension elsewhere
        (pack({"x": msgpack.ExtType(1, b""), "id": 13}), 13),
        (pack({"id": msgpack.ExtType(1, b"")}), None),
        (pack({"id": 13, "x": msgpack.Timestamp(1, 0)}), 13),
        (b"\x82\xa2id\x0e\x91\x91\x00\x01", 14),  # a list as a map key, after the id
        (b"\x82\xa2id\x0f", 15),  # cut short after the id
        (b"\x82\xa2id\x10\xa1x" + b"\x91" * 5000 + b"\x00", 16),  # nested too deep elsewhere
        (b"\x82\xa2id\x12\xa1x\xa2\xff\xfe", 18),  # a str that is not UTF-8, elsewhere
        (b"\xc1", None),
        (b"", None),
    ],
    ids=repr,
)
def test_request_id_recovers_the_id_where_it_can(data: bytes, expected: int | None) -> None:
    assert request_id(data) == expected


@pytest.mark.parametrize("cls", MESSAGE_TYPES, ids=lambda cls: cls.TYPE)
def test_request_id_of_a_valid_message(cls: type[Message]) -> None:
    message = example(cls)
    assert request_id(encode(message)) == getattr(message, "id", None)


# -- fuzz -------------------------------------------------------------------------------------


@FUZZ
@given(st.binary(max_size=512))
def test_decode_of_arbitrary_bytes_only_raises_protocol_error(data: bytes) -> None:
    try:
        decode(data)
    except ProtocolError:
        pass
    request_id(data)


msgpack_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats()
    | st.text(max_size=20)
    | st.sampled_from(["/", "/a/b.py", "*.py", "**", "server", "bad_field", "\0"])
    | st.binary(max_size=8),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)


@FUZZ
@given(
    st.sampled_from(MESSAGE_TYPES),
    st.dictionaries(st.text(max_size=12), msgpack_values, max_size=6),
    st.data(),
)
def test_decode_of_arbitrary_maps_only_raises_protocol_error(
    cls: type[Message], extra: dict[str, object], data: st.DataObject
) -> None:
    """Start from a valid message and replace or add fields with arbitrary values."""
    raw = wire(example(cls))
    for name in data.draw(st.lists(st.sampled_from(sorted(raw)), max_size=3)):
        raw[name] = data.draw(msgpack_values)
    raw.update(extra)
    encoded = pack(raw)
    request_id(encoded)  # never raises
    try:
        message = decode(encoded)
    except ProtocolError:
        return  # refused, as it should be; anything else escaping fails the test
    assert decode(encode(message)) == message


@FUZZ
@given(
    files=st.lists(
        st.text(min_size=1, max_size=40).map(lambda s: "/" + s.replace("\0", "")), max_size=20
    ),
    pattern=st.sampled_from(["*", "**", "**/*.py", "a/**/b", "[ab]?.txt"]),
    request=st.integers(min_value=0, max_value=MAX_REQUEST_ID),
    since=st.floats(min_value=0.0, max_value=MAX_TIMESTAMP),
)
def test_valid_watch_messages_round_trip(
    files: list[str], pattern: str, request: int, since: float
) -> None:
    message = Watch(id=request, files=tuple(files), globs=(GlobSpec("/srv", pattern),), since=since)
    assert decode(encode(message)) == message
    assert request_id(encode(message)) == request
