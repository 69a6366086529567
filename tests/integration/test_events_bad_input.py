"""Hostile input to the event stream and ``reload``: a clear error, and the daemon serves on."""

from __future__ import annotations

from pathlib import Path

import pytest
import zmq

from reloadd.client import Client, Crash, RequestRejected, ServerState
from reloadd.protocol import (
    Error,
    ErrorCode,
    Event,
    EventKind,
    EventsRead,
    Message,
    Reload,
    StateReport,
    Subscribe,
    Subscribed,
    decode,
    encode,
)
from reloadd.protocol.limits import MAX_NAME_LENGTH
from tests.daemon_process import DaemonProcess
from tests.integration.raw_client import (
    REPLY_TIMEOUT_MS,
    RawSockets,
    ask,
    hello,
    raw_socket,
    still_serving,
)

FLOOD = 500


@pytest.fixture
def backend_name() -> str:
    """About the daemon's input handling: the built-in watcher suffices."""
    return "builtin"


def received(sock: zmq.Socket[bytes]) -> Message:
    """The next message the daemon sends this socket."""
    assert sock.poll(REPLY_TIMEOUT_MS), "the daemon sent nothing"
    return decode(sock.recv())


@pytest.mark.parametrize(
    "message",
    [
        Subscribe(id=3),
        EventsRead(seq=1),
        StateReport(state=ServerState.CRASHED, error=Crash("SyntaxError", "bad", "/x.py", 1)),
        Reload(id=4, name="web"),
    ],
    ids=lambda message: message.TYPE,
)
def test_an_unregistered_connection_is_told_to_say_hello(
    message: Message, project: Path, daemon: DaemonProcess, raw_sockets: RawSockets
) -> None:
    reply = ask(raw_socket(raw_sockets, daemon), encode(message))
    assert isinstance(reply, Error)
    assert reply.code is ErrorCode.NOT_REGISTERED
    assert reply.message.startswith(f"send hello before {message.TYPE}")
    still_serving(project)


def test_a_subscribe_flood_makes_one_subscription(
    project: Path, daemon: DaemonProcess, raw_sockets: RawSockets
) -> None:
    sock = raw_socket(raw_sockets, daemon)
    hello(sock)
    for n in range(FLOOD):
        sock.send(encode(Subscribe(id=10 + n)))
    replies = [received(sock) for _ in range(FLOOD)]
    assert all(isinstance(reply, Subscribed) for reply in replies)
    assert [reply.re for reply in replies if isinstance(reply, Subscribed)] == [
        10 + n for n in range(FLOOD)
    ]
    with Client(project, name="web", spawn=False):
        joined = received(sock)
    left = received(sock)
    assert isinstance(joined, Event)
    assert (joined.event, joined.client, joined.seq) == (EventKind.CLIENT_JOINED, "web", 1)
    assert isinstance(left, Event)
    assert (left.event, left.seq) == (EventKind.CLIENT_LEFT, 2)  # once each, not once per subscribe
    assert not sock.poll(200)
    still_serving(project)


def test_many_subscribers_that_vanish_are_forgotten(
    project: Path, daemon: DaemonProcess, raw_sockets: RawSockets
) -> None:
    socks = [raw_socket(raw_sockets, daemon) for _ in range(100)]
    for sock in socks:
        hello(sock)
        assert isinstance(ask(sock, encode(Subscribe(id=2))), Subscribed)
    for sock in socks:
        sock.close(linger=0)
    with Client(project, name="web", spawn=False):  # an event to send them: they are gone
        daemon.wait_for_log("could not be sent event")
    still_serving(project)


def test_reload_of_a_long_unknown_name_is_refused_with_the_names(
    project: Path, daemon: DaemonProcess, raw_sockets: RawSockets
) -> None:
    sock = raw_socket(raw_sockets, daemon)
    hello(sock)
    with Client(project, name="web", spawn=False) as web:
        reply = ask(sock, encode(Reload(id=5, name="n" * MAX_NAME_LENGTH)))
        assert isinstance(reply, Error)
        assert reply.code is ErrorCode.BAD_FIELD
        assert reply.re == 5
        assert len(reply.message) < 200
        assert reply.message.endswith("; the connected ones are: raw, web")
        with pytest.raises(RequestRejected, match="no dev server named 'nope'"):
            web.reload("nope")
        assert web.wait(timeout=0.2) == []
        assert not web.restart_requested
    still_serving(project)
