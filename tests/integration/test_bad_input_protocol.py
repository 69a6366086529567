"""Hostile values in every field, and messages sent the wrong way: the daemon answers and serves on.

The decoder's own tests are in ``tests/unit/test_protocol_limits.py``; these check that a
real daemon reads requests with ``decode_request`` and answers as ``docs/protocol.md`` says.
"""

from __future__ import annotations

import os
from pathlib import Path

import msgpack
import pytest

from reloadd.protocol import PROTOCOL_VERSION, Error, ErrorCode, Noted, Welcome, encode
from tests.daemon_process import DaemonProcess
from tests.integration.raw_client import RawSockets, ask, hello, raw_socket, still_serving


@pytest.fixture
def backend_name() -> str:
    """These tests are about the daemon, not the watcher: the built-in one suffices."""
    return "builtin"


HELLO = {"type": "hello", "id": 1, "protocol": PROTOCOL_VERSION, "name": "raw", "pid": os.getpid()}


def deep(raw: dict[str, object], name: str, depth: int) -> bytes:
    """``raw`` with field ``name`` nested ``depth`` arrays deep (spliced: msgpack packs 511)."""
    data: bytes = msgpack.packb({**raw, name: "@deep@"})
    return data.replace(msgpack.packb("@deep@"), b"\x91" * depth + msgpack.packb("server"))


DAEMON_ONLY: list[tuple[str, bytes]] = [
    ("welcome, no fields", msgpack.packb({"type": "welcome", "re": 3})),
    ("changed, no fields", msgpack.packb({"type": "changed"})),
    ("error, bad code", msgpack.packb({"type": "error", "re": 1, "code": "x", "message": "m"})),
    ("noted", encode(Noted(re=1, notified=1, recorded=1))),
    ("pong with an id", msgpack.packb({"type": "pong", "id": 8, "re": 1, "instance": "x"})),
]


@pytest.mark.parametrize("registered", [False, True], ids=["unregistered", "registered"])
@pytest.mark.parametrize("data", [case[1] for case in DAEMON_ONLY], ids=[c[0] for c in DAEMON_ONLY])
def test_a_daemon_only_message_is_unexpected_whatever_its_fields(
    daemon: DaemonProcess, project: Path, raw_sockets: RawSockets, data: bytes, registered: bool
) -> None:
    """These were answered ``bad_field`` (bad fields) or ``not_registered`` (before ``hello``)."""
    sock = raw_socket(raw_sockets, daemon)
    if registered:
        assert isinstance(hello(sock), Welcome)
    reply = ask(sock, data)
    assert isinstance(reply, Error)
    assert reply.code is ErrorCode.UNEXPECTED, reply.message
    assert "only the daemon sends" in reply.message
    still_serving(project)


HOSTILE: list[tuple[str, bytes, ErrorCode, int | None]] = [
    ("pid 2**31", msgpack.packb({**HELLO, "pid": 2**31}), ErrorCode.BAD_FIELD, 1),
    ("pid 2**63", msgpack.packb({**HELLO, "pid": 2**63}), ErrorCode.BAD_FIELD, 1),
    ("role 1000 deep", deep(HELLO, "role", 1000), ErrorCode.LIMIT_EXCEEDED, 1),
    (
        "1 MB unknown string",
        msgpack.packb({"type": "ping", "id": 4, "x": "s" * 1_000_000}),
        ErrorCode.BAD_FIELD,
        4,
    ),
    (
        "100k unknown list",
        msgpack.packb({"type": "ping", "id": 5, "x": [0] * 100_000}),
        ErrorCode.LIMIT_EXCEEDED,
        5,
    ),
    (
        "ext type beside the id",
        msgpack.packb({"type": "ping", "id": 6, "x": msgpack.ExtType(1, b"")}),
        ErrorCode.BAD_MESSAGE,
        6,
    ),
    (
        "since NaN",
        msgpack.packb({"type": "watch", "id": 7, "since": float("nan")}),
        ErrorCode.BAD_FIELD,
        7,
    ),
]


@pytest.mark.parametrize(
    ("data", "code", "re"), [case[1:] for case in HOSTILE], ids=[case[0] for case in HOSTILE]
)
def test_hostile_values_get_an_error_naming_the_request(
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
    assert (reply.code, reply.re) == (code, re), reply.message
    still_serving(project)
