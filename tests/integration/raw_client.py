"""Bare ZeroMQ sockets speaking the protocol by hand, as a hostile or buggy client would.

Shared by the bad-input and limit tests; the ``raw_sockets`` fixture closes them all.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import zmq

from reloadd.client import Client
from reloadd.protocol import PROTOCOL_VERSION, Hello, Message, decode, encode
from tests.daemon_process import DaemonProcess

REPLY_TIMEOUT_MS = 5000
"""How long a raw socket waits for the daemon's reply before the test fails."""


class RawSockets:
    """Bare DEALER sockets, as a hostile or buggy client would use; all closed after the test."""

    def __init__(self) -> None:
        self.context: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
        self.sockets: list[zmq.Socket[bytes]] = []

    def connect(self, daemon: DaemonProcess) -> zmq.Socket[bytes]:
        """A new socket connected to the daemon."""
        sock = self.context.socket(zmq.DEALER)
        sock.setsockopt(zmq.LINGER, 0)
        sock.connect(daemon.endpoint.address)
        self.sockets.append(sock)
        return sock

    def close(self) -> None:
        """Close every socket and the context."""
        for sock in self.sockets:
            sock.close(linger=0)
        self.context.term()


@pytest.fixture
def raw_sockets() -> Iterator[RawSockets]:
    """Raw sockets for one test, all closed after it."""
    raw = RawSockets()
    yield raw
    raw.close()


def raw_socket(raw: RawSockets, daemon: DaemonProcess) -> zmq.Socket[bytes]:
    """A bare DEALER connected to the daemon."""
    return raw.connect(daemon)


def ask(sock: zmq.Socket[bytes], data: bytes | list[bytes]) -> Message:
    """Send raw bytes (or frames) and decode the reply."""
    if isinstance(data, list):
        sock.send_multipart(data)
    else:
        sock.send(data)
    assert sock.poll(REPLY_TIMEOUT_MS), "the daemon did not reply"
    return decode(sock.recv())


def hello(sock: zmq.Socket[bytes], protocol: int = PROTOCOL_VERSION) -> Message:
    """Register the raw socket."""
    return ask(sock, encode(Hello(id=1, protocol=protocol, name="raw", pid=os.getpid())))


def still_serving(project: Path) -> None:
    """The daemon still answers a real client's status request."""
    with Client(project, name="checker", spawn=False) as client:
        assert client.status().root == str(project)
