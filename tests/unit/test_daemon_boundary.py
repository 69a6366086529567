"""The daemon's boundaries: a failing handler or batch is logged and answered, never raised.

The daemon runs in-process on a real socket, with a backend that watches nothing and one
handler (or the batch router) replaced by one that fails.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import cast

import pytest
import zmq

from reloadd.daemon import handlers, server
from reloadd.daemon.backends.base import Backend, ChangeBatch
from reloadd.daemon.context import DaemonContext
from reloadd.daemon.registry import ClientId
from reloadd.daemon.server import Daemon
from reloadd.protocol import Error, ErrorCode, Message, Ping, Pong, decode, encode
from reloadd.protocol.endpoint import endpoint_for, ensure_private_dir

TABLE = cast(dict[type[Message], handlers.AnyHandler], handlers.HANDLERS)
"""The dispatch table the daemon reads (the same object), to replace one handler in."""


class NoBackend(Backend):
    """Watches nothing."""

    name = "none"

    def start(self) -> None:
        """Nothing to start."""

    def watch_roots(
        self, roots: Iterable[Path], *, timeout: float, since: Mapping[Path, str] | None = None
    ) -> None:
        """Nothing to watch."""

    def watched_roots(self) -> frozenset[Path]:
        """No roots."""
        return frozenset()

    def close(self) -> None:
        """Nothing to close."""


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[Daemon]:
    """A bound daemon (its loop is not run: the test drives it)."""
    endpoint = endpoint_for(tmp_path)
    ensure_private_dir(endpoint.socket_path.parent)
    bound = Daemon(endpoint)
    bound.bind(NoBackend(bound.changes.put))
    yield bound
    bound.close()


@pytest.fixture
def peer(daemon: Daemon) -> Iterator[zmq.Socket[bytes]]:
    """A DEALER connected to the daemon."""
    context: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    sock = context.socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(daemon.endpoint.address)
    yield sock
    sock.close(linger=0)
    context.term()


def failing_handler(ctx: DaemonContext, identity: ClientId, message: Message) -> list[Message]:
    """A handler with a bug."""
    raise RecursionError("maximum recursion depth exceeded")


def ask(daemon: Daemon, peer: zmq.Socket[bytes], message: Message) -> Message:
    """Send a message, let the daemon read it, return its reply."""
    peer.send(encode(message))
    assert daemon._socket.poll(5000)  # the loop, driven by hand
    daemon._read_requests()
    assert peer.poll(5000), "no reply"
    return decode(peer.recv())


def test_a_failing_handler_is_answered_internal_and_the_next_message_served(
    daemon: Daemon,
    peer: zmq.Socket[bytes],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setitem(TABLE, Ping, failing_handler)
    with caplog.at_level(logging.ERROR, logger="reloadd.daemon"):
        reply = ask(daemon, peer, Ping(id=7))
    assert isinstance(reply, Error)
    assert (reply.code, reply.re) == (ErrorCode.INTERNAL, 7)
    assert "RecursionError" in reply.message
    assert "RecursionError" in caplog.text  # the traceback is logged
    monkeypatch.undo()
    assert isinstance(ask(daemon, peer, Ping(id=8)), Pong)


def test_tracebacks_of_a_repeated_failure_are_rate_limited(
    daemon: Daemon,
    peer: zmq.Socket[bytes],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setitem(TABLE, Ping, failing_handler)
    with caplog.at_level(logging.ERROR, logger="reloadd.daemon"):
        for request in range(50):
            assert isinstance(ask(daemon, peer, Ping(id=request + 1)), Error)
    assert 1 <= caplog.text.count("Traceback") <= 10


def test_a_failing_batch_does_not_stop_the_next_one(
    daemon: Daemon, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[ChangeBatch] = []

    def route(ctx: DaemonContext, batch: ChangeBatch) -> None:
        seen.append(batch)
        if len(seen) == 1:
            raise KeyError("a bug")

    monkeypatch.setattr(server, "on_batch", route)
    first, second = ChangeBatch(paths=frozenset({"/a"})), ChangeBatch(paths=frozenset({"/b"}))
    daemon.changes.put(first)
    daemon.changes.put(second)
    daemon._flush_changes()
    assert seen == [first, second]
