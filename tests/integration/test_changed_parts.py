"""A client's ``wait()`` returns a burst sent in parts (``changed`` with ``more``) as one."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import zmq

from reloadd.client import Client
from reloadd.protocol import PROTOCOL_VERSION, Changed, Hello, Welcome, decode, encode
from reloadd.protocol.endpoint import endpoint_for, ensure_private_dir

REPLY_TIMEOUT_MS = 10_000


class FakeDaemon:
    """A bare ROUTER on the project's endpoint that answers ``hello`` and sends what it is told."""

    def __init__(self, root: Path) -> None:
        endpoint = endpoint_for(root)
        ensure_private_dir(endpoint.socket_path.parent)
        self.context: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
        self.socket = self.context.socket(zmq.ROUTER)
        self.socket.setsockopt(zmq.LINGER, 0)
        self.socket.bind(endpoint.address)
        self.peer = b""

    def answer_hello(self) -> None:
        """Wait for the client's ``hello`` and welcome it (with a heartbeat it will not reach)."""
        assert self.socket.poll(REPLY_TIMEOUT_MS), "no hello"
        self.peer, data = self.socket.recv_multipart()
        hello = decode(data)
        assert isinstance(hello, Hello)
        welcome = Welcome(
            re=hello.id,
            protocol=PROTOCOL_VERSION,
            instance="fake",
            root="/",
            backend="fake",
            pid=os.getpid(),
            heartbeat=60.0,
        )
        self.socket.send_multipart([self.peer, encode(welcome)])

    def send(self, message: Changed) -> None:
        """Send one message to the client."""
        self.socket.send_multipart([self.peer, encode(message)])

    def close(self) -> None:
        """Close the socket and the context."""
        self.socket.close(linger=0)
        self.context.term()


@pytest.fixture
def fake_daemon(project: Path) -> Iterator[FakeDaemon]:
    """A fake daemon for ``project``, closed after the test."""
    fake = FakeDaemon(project)
    yield fake
    fake.close()


def test_wait_gathers_the_parts_of_one_burst(fake_daemon: FakeDaemon, project: Path) -> None:
    connected = threading.Thread(target=fake_daemon.answer_hello)
    connected.start()
    with Client(project, name="web", spawn=False, fallback=False) as client:
        connected.join()
        got: list[list[Path]] = []
        waiting = threading.Thread(target=lambda: got.append(client.wait(timeout=30.0)))
        waiting.start()
        fake_daemon.send(Changed(paths=("/p/a.py", "/p/b.py"), at=1.0, more=True))
        waiting.join(1.0)
        assert waiting.is_alive(), "wait() returned before the last part of the burst"
        fake_daemon.send(Changed(paths=("/p/c.py",), at=1.0))
        waiting.join(30.0)
    assert got == [[Path("/p/a.py"), Path("/p/b.py"), Path("/p/c.py")]]
