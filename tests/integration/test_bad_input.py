"""Malformed, oversized, wrong-version and hostile messages: an error reply, and the daemon serves on."""

from __future__ import annotations

import os
from pathlib import Path

import msgpack
import pytest

from reloadd.client import Client, RequestRejected
from reloadd.protocol import (
    PROTOCOL_VERSION,
    Error,
    ErrorCode,
    Hello,
    Noted,
    Ping,
    Pong,
    Saved,
    Watch,
    Welcome,
    encode,
)
from reloadd.protocol.limits import (
    MAX_CLIENTS,
    MAX_FILES_PER_CLIENT,
    MAX_GLOBS_PER_CLIENT,
    MAX_MESSAGE_BYTES,
    MAX_PATHS_PER_MESSAGE,
)
from tests.daemon_process import DaemonProcess
from tests.integration.raw_client import RawSockets, ask, hello, raw_socket, still_serving


@pytest.fixture
def backend_name() -> str:
    """These tests are about the daemon, not the watcher: the built-in one suffices."""
    return "builtin"


BAD_MESSAGES: list[tuple[str, bytes, ErrorCode, int | None]] = [
    ("not msgpack", b"\xc1\xff garbage", ErrorCode.BAD_MESSAGE, None),
    (
        "truncated msgpack",
        msgpack.packb({"type": "status", "id": 5})[:-1],
        ErrorCode.BAD_MESSAGE,
        None,
    ),
    ("not a map", msgpack.packb([1, 2, 3]), ErrorCode.BAD_MESSAGE, None),
    ("no type", msgpack.packb({"id": 7}), ErrorCode.BAD_MESSAGE, 7),
    ("type not a string", msgpack.packb({"type": 3, "id": 8}), ErrorCode.BAD_MESSAGE, 8),
    (
        "unknown type",
        msgpack.packb({"type": "exec", "id": 9, "code": "import os"}),
        ErrorCode.UNKNOWN_TYPE,
        9,
    ),
    ("missing field", msgpack.packb({"type": "watch"}), ErrorCode.BAD_FIELD, None),
    (
        "wrong field type",
        msgpack.packb({"type": "watch", "id": 10, "files": "/etc/passwd"}),
        ErrorCode.BAD_FIELD,
        10,
    ),
    ("bool as id", msgpack.packb({"type": "status", "id": True}), ErrorCode.BAD_FIELD, None),
    (
        "relative path",
        msgpack.packb({"type": "watch", "id": 11, "files": ["../x.py"]}),
        ErrorCode.BAD_FIELD,
        11,
    ),
    (
        "NUL in path",
        msgpack.packb({"type": "watch", "id": 12, "files": ["/a\0b"]}),
        ErrorCode.BAD_FIELD,
        12,
    ),
    (
        "bad glob shape",
        msgpack.packb({"type": "watch", "id": 13, "globs": [["/a"]]}),
        ErrorCode.BAD_FIELD,
        13,
    ),
    (
        "absolute glob pattern",
        msgpack.packb({"type": "watch", "id": 14, "globs": [["/a", "/etc/*"]]}),
        ErrorCode.BAD_FIELD,
        14,
    ),
    (
        "ext type",
        msgpack.packb({"type": "status", "id": msgpack.ExtType(1, b"x")}),
        ErrorCode.BAD_MESSAGE,
        None,
    ),
    (
        "daemon-only message",
        encode(Welcome(re=1, protocol=1, instance="x", root="/", backend="b", pid=1)),
        ErrorCode.UNEXPECTED,
        None,
    ),
    (
        "saved: relative path",
        msgpack.packb({"type": "saved", "id": 15, "paths": ["/ok.py", "app/views.py"]}),
        ErrorCode.BAD_FIELD,
        15,
    ),
    (
        "saved: paths not a list",
        msgpack.packb({"type": "saved", "id": 16, "paths": "/app/views.py"}),
        ErrorCode.BAD_FIELD,
        16,
    ),
    (
        "saved: a path not a string",
        msgpack.packb({"type": "saved", "id": 17, "paths": [b"/app/views.py"]}),
        ErrorCode.BAD_FIELD,
        17,
    ),
    ("saved: no paths", msgpack.packb({"type": "saved", "id": 18}), ErrorCode.BAD_FIELD, 18),
    (
        "saved: too many paths",
        msgpack.packb(
            {"type": "saved", "id": 19, "paths": ["/a.py"] * (MAX_PATHS_PER_MESSAGE + 1)}
        ),
        ErrorCode.LIMIT_EXCEEDED,
        19,
    ),
    (
        "saved: a command, not a path",
        msgpack.packb({"type": "saved", "id": 20, "paths": ["$(touch /tmp/x)"]}),
        ErrorCode.BAD_FIELD,
        20,
    ),
    (
        "daemon-only noted",
        encode(Noted(re=1, notified=1, recorded=1)),
        ErrorCode.UNEXPECTED,
        None,
    ),
]


@pytest.mark.parametrize(
    ("data", "code", "re"),
    [case[1:] for case in BAD_MESSAGES],
    ids=[case[0] for case in BAD_MESSAGES],
)
def test_bad_message_gets_an_error_reply(
    daemon: DaemonProcess,
    project: Path,
    raw_sockets: RawSockets,
    data: bytes,
    code: ErrorCode,
    re: int | None,
) -> None:
    sock = raw_socket(raw_sockets, daemon)
    assert isinstance(hello(sock), Welcome)
    reply = ask(sock, data)
    assert isinstance(reply, Error)
    assert (reply.code, reply.re) == (code, re)
    assert reply.message
    still_serving(project)


def test_request_before_hello_is_refused(
    daemon: DaemonProcess, project: Path, raw_sockets: RawSockets
) -> None:
    sock = raw_socket(raw_sockets, daemon)
    reply = ask(sock, encode(Watch(id=3, files=(str(project / "a.py"),))))
    assert isinstance(reply, Error)
    assert (reply.code, reply.re) == (ErrorCode.NOT_REGISTERED, 3)
    assert "hello" in reply.message
    still_serving(project)


def test_saved_before_hello_is_refused(
    daemon: DaemonProcess, project: Path, raw_sockets: RawSockets
) -> None:
    sock = raw_socket(raw_sockets, daemon)
    reply = ask(sock, encode(Saved(id=4, paths=(str(project / "a.py"),))))
    assert isinstance(reply, Error)
    assert (reply.code, reply.re) == (ErrorCode.NOT_REGISTERED, 4)
    assert "hello" in reply.message
    assert isinstance(hello(sock), Welcome)
    assert isinstance(ask(sock, encode(Saved(id=5, paths=(str(project / "a.py"),)))), Noted)
    still_serving(project)


def test_wrong_protocol_version_is_refused(
    daemon: DaemonProcess, project: Path, raw_sockets: RawSockets
) -> None:
    sock = raw_socket(raw_sockets, daemon)
    reply = hello(sock, protocol=PROTOCOL_VERSION + 1)
    assert isinstance(reply, Error)
    assert reply.code == ErrorCode.VERSION_MISMATCH
    assert "reloadd stop" in reply.message
    still_serving(project)


def test_multi_frame_message_is_refused(
    daemon: DaemonProcess, project: Path, raw_sockets: RawSockets
) -> None:
    sock = raw_socket(raw_sockets, daemon)
    reply = ask(sock, [encode(Hello(id=1, protocol=PROTOCOL_VERSION, name="x", pid=1)), b"extra"])
    assert isinstance(reply, Error)
    assert reply.code == ErrorCode.BAD_MESSAGE
    still_serving(project)


def test_oversized_message_gets_too_large(
    daemon: DaemonProcess, project: Path, raw_sockets: RawSockets
) -> None:
    sock = raw_socket(raw_sockets, daemon)
    hello(sock)
    reply = ask(sock, b"\x00" * (MAX_MESSAGE_BYTES + 1))
    assert isinstance(reply, Error)
    assert reply.code == ErrorCode.TOO_LARGE
    still_serving(project)


def test_huge_frame_is_dropped_without_hurting_anyone(
    daemon: DaemonProcess, project: Path, raw_sockets: RawSockets
) -> None:
    sock = raw_socket(raw_sockets, daemon)
    hello(sock)
    sock.send(b"\x00" * (2 * MAX_MESSAGE_BYTES + 1))  # over ZMQ_MAXMSGSIZE: the peer is cut off
    assert not sock.poll(500)
    still_serving(project)


def test_files_per_client_limit(daemon: DaemonProcess, project: Path) -> None:
    with Client(project, name="greedy", spawn=False) as client:
        client.watch(files=[project / f"f{i}.py" for i in range(MAX_FILES_PER_CLIENT)])
        with pytest.raises(RequestRejected, match="over the limit") as caught:
            client.watch(files=[project / "one-too-many.py"])
        assert caught.value.code == ErrorCode.LIMIT_EXCEEDED
        assert client.status().root == str(project)


def test_globs_per_client_limit(daemon: DaemonProcess, project: Path) -> None:
    with Client(project, name="greedy", spawn=False) as client:
        client.watch(globs=[(project, f"*.{i}") for i in range(MAX_GLOBS_PER_CLIENT)])
        with pytest.raises(RequestRejected, match="over the limit") as caught:
            client.watch(globs=[(project, "*.more")])
        assert caught.value.code == ErrorCode.LIMIT_EXCEEDED
    still_serving(project)


def test_clients_limit(daemon: DaemonProcess, project: Path, raw_sockets: RawSockets) -> None:
    sockets = [raw_socket(raw_sockets, daemon) for _ in range(MAX_CLIENTS)]
    for sock in sockets:
        assert isinstance(hello(sock), Welcome)
    extra = raw_socket(raw_sockets, daemon)
    reply = hello(extra)
    assert isinstance(reply, Error)
    assert reply.code == ErrorCode.LIMIT_EXCEEDED
    sockets[0].send(msgpack.packb({"type": "bye"}))
    # ``bye`` has no reply, and the daemon reads each connection on its own: the extra's next
    # hello could overtake it. The pong to a ping on the same connection says it was read.
    pong = ask(sockets[0], encode(Ping(id=3)))
    assert isinstance(pong, Pong)
    assert not pong.registered
    # Once one leaves, the next gets in; the daemon kept serving throughout.
    assert isinstance(
        ask(extra, encode(Hello(id=2, protocol=PROTOCOL_VERSION, name="x", pid=os.getpid()))),
        Welcome,
    )
