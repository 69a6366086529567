"""Housekeeping forgets a client whose grace period is over, and says so only once its memory is
released; connections that never registered keep no outbox account.

A test measuring the daemon's memory after a client left waits for the "forgot" line;
if the line came before the heap was trimmed, it measured memory about to be released.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import zmq

from reloadd.daemon import housekeeping, sessions
from reloadd.daemon.context import REMOTE_SILENCE_LIMIT
from reloadd.daemon.server import Daemon
from reloadd.protocol import Error, Hello, Message, Ping, Pong, Welcome, decode, encode
from reloadd.protocol.endpoint import endpoint_for, ensure_private_dir
from tests.unit.test_daemon_boundary import NoBackend


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[Daemon]:
    """A bound daemon (its loop is not run: the test drives housekeeping)."""
    endpoint = endpoint_for(tmp_path)
    ensure_private_dir(endpoint.socket_path.parent)
    bound = Daemon(endpoint)
    bound.bind(NoBackend(bound.changes.put))
    yield bound
    bound.close()


def test_forgot_is_logged_after_the_memory_is_released(
    daemon: Daemon, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    ctx = daemon.ctx
    hello = Hello(id=1, protocol=1, name="slow", pid=os.getpid())
    ctx.registry.add(b"\x00slow", hello, now=time.time())
    ctx.depart(b"\x00slow", "said goodbye")
    ctx.registry.depart(b"\x00slow", until=time.time() - 1.0)  # its grace period is over
    said_at_release: list[bool] = []

    def release_memory() -> None:
        said_at_release.append("forgot slow" in caplog.text)

    monkeypatch.setattr(housekeeping, "release_memory", release_memory)
    with caplog.at_level(logging.INFO, logger="reloadd.daemon"):
        housekeeping.check_clients(ctx)
    assert ctx.registry.get(b"\x00slow") is None
    assert said_at_release == [False], "the heap was trimmed after 'forgot' was logged"
    assert "forgot slow" in caplog.text


def test_connections_that_never_registered_keep_no_outbox_account(daemon: Daemon) -> None:
    context: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    peers = [context.socket(zmq.DEALER) for _ in range(20)]
    try:
        for peer in peers:
            peer.setsockopt(zmq.LINGER, 0)
            peer.connect(daemon.endpoint.address)
        client = peers[0]
        assert isinstance(
            ask(daemon, client, Hello(id=1, protocol=1, name="web", pid=os.getpid())), Welcome
        )
        for peer in peers[1:]:  # a bad frame each: answered, so each got an account
            assert isinstance(ask(daemon, peer, b"\xc1"), Error)
        assert len(daemon.ctx.outbox) == len(peers)
        housekeeping.check_clients(daemon.ctx)
        assert len(daemon.ctx.outbox) == 1, "accounts of connections that are not clients stay"
        assert isinstance(ask(daemon, client, Ping(id=2)), Pong)
    finally:
        for peer in peers:
            peer.close(linger=0)
        context.term()


def ask(daemon: Daemon, peer: zmq.Socket[bytes], message: Message | bytes) -> Message:
    """Send a message (or raw bytes), let the daemon read it, return its reply."""
    peer.send(message if isinstance(message, bytes) else encode(message))
    assert daemon._socket.poll(5000)  # the loop, driven by hand
    daemon._read_requests()
    assert peer.poll(5000), "no reply"
    return decode(peer.recv())


def _dead_pid() -> int:
    """A pid no process has now (the highest ones are seldom used)."""
    for pid in range(4_000_000, 3_000_000, -1):
        if not housekeeping.pid_alive(pid):
            return pid
    pytest.fail("no free pid found")


def test_a_network_client_is_not_judged_by_a_pid_of_another_machine(daemon: Daemon) -> None:
    ctx = daemon.ctx
    hello = Hello(id=1, protocol=1, name="in a container", pid=_dead_pid())
    ctx.registry.add(b"\x00remote", hello, now=time.time(), remote="web")
    ctx.registry.add(
        b"\x00local", Hello(id=1, protocol=1, name="here", pid=hello.pid), now=time.time()
    )
    housekeeping.check_clients(ctx)
    remote, local = ctx.registry.get(b"\x00remote"), ctx.registry.get(b"\x00local")
    assert remote is not None
    assert remote.connected
    assert local is not None
    assert not local.connected


def test_a_silent_network_client_departs_sooner_than_a_local_one(daemon: Daemon) -> None:
    ctx = daemon.ctx
    past = time.time() - REMOTE_SILENCE_LIMIT - 0.5
    ctx.registry.add(
        b"\x00remote", Hello(id=1, protocol=1, name="far", pid=os.getpid()), now=past, remote="web"
    )
    ctx.registry.add(b"\x00local", Hello(id=1, protocol=1, name="near", pid=os.getpid()), now=past)
    housekeeping.check_clients(ctx)
    remote, local = ctx.registry.get(b"\x00remote"), ctx.registry.get(b"\x00local")
    assert remote is not None
    assert not remote.connected
    assert local is not None
    assert local.connected


def test_a_network_client_back_on_a_new_link_takes_its_registration_back_at_once(
    daemon: Daemon,
) -> None:
    """Its old link is not known dead yet (no silence limit passed): the same key and name
    on a new link is the client itself, so the old link departs and the registration follows."""
    ctx = daemon.ctx
    hello = Hello(id=1, protocol=1, name="web in a container", pid=7)
    ctx.peer = "web"
    sessions.handle_hello(ctx, b"\x00old", hello)
    record = ctx.registry.get(b"\x00old")
    assert record is not None
    ctx.registry.watch(record, {"/p/a.py": "/p/a.py"}, {})
    (welcome,) = sessions.handle_hello(ctx, b"\x00new", hello)
    assert isinstance(welcome, Welcome)
    assert welcome.registration  # taken back
    assert ctx.registry.get(b"\x00old") is None
    taken = ctx.registry.get(b"\x00new")
    assert taken is not None
    assert list(taken.files) == ["/p/a.py"]
    ctx.peer = "other"  # another key under the same name takes nothing
    (welcome,) = sessions.handle_hello(ctx, b"\x00third", hello)
    assert isinstance(welcome, Welcome)
    assert not welcome.registration
