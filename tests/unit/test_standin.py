"""The stand-in that answers ``--socket`` connections while no child serves: real sockets on loopback."""

from __future__ import annotations

import http.client
import socket
import threading
from collections.abc import Iterator

import pytest

from reloadd.client.standin import Outage, StandIn, classify
from tests.net import listening_socket

TIMEOUT = 10.0

OUTAGE = Outage(
    "python app.py exited with code 1 after 0.1 s",
    "greeting.py:1: SyntaxError: unterminated string literal",
)


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    with listening_socket() as sock:
        yield sock


@pytest.fixture
def standin(listener: socket.socket) -> Iterator[StandIn]:
    stand_in = StandIn([listener])
    yield stand_in
    stand_in.close()


def get(listener: socket.socket, method: str = "GET") -> tuple[int, dict[str, str], str]:
    host, port = listener.getsockname()[:2]
    connection = http.client.HTTPConnection(host, port, timeout=TIMEOUT)
    try:
        connection.request(method, "/page")
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read().decode()
    finally:
        connection.close()


def test_an_http_request_gets_a_503_naming_the_error(
    listener: socket.socket, standin: StandIn
) -> None:
    standin.start(OUTAGE)
    status, headers, page = get(listener)
    assert status == 503
    assert headers["Connection"] == "close"
    assert "Retry-After" in headers
    assert "greeting.py:1: SyntaxError: unterminated string literal" in page
    assert "python app.py exited with code 1" in page
    assert get(listener, "HEAD")[:1] == (503,)
    assert standin.answered == 2


def test_anything_else_is_closed(listener: socket.socket, standin: StandIn) -> None:
    standin.start(OUTAGE)
    with socket.create_connection(listener.getsockname()[:2], timeout=TIMEOUT) as raw:
        raw.sendall(b"\x16\x03\x01\x02\x00 not http\r\n\r\n")
        assert raw.recv(100) == b""
    assert standin.answered == 0


def test_after_stop_connections_wait_for_the_next_server(
    listener: socket.socket, standin: StandIn
) -> None:
    standin.start(OUTAGE)
    assert get(listener)[0] == 503
    standin.stop()
    assert not standin.running
    with socket.create_connection(listener.getsockname()[:2], timeout=TIMEOUT) as client:
        client.sendall(b"GET / HTTP/1.0\r\n\r\n")
        listener.settimeout(TIMEOUT)
        accepted, _ = listener.accept()  # still in the backlog: the stand-in took nothing
        with accepted:
            assert accepted.recv(100).startswith(b"GET / HTTP/1.0")


def test_stop_with_finish_answers_a_connection_it_had_accepted(
    listener: socket.socket, standin: StandIn
) -> None:
    standin.start(OUTAGE)
    with socket.create_connection(listener.getsockname()[:2], timeout=TIMEOUT) as client:
        client.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")  # the head is not complete yet
        assert get(listener)[0] == 503  # accepted after the first (the backlog is in order)
        stopping = threading.Thread(target=standin.stop, kwargs={"finish": True})
        stopping.start()
        client.sendall(b"\r\n")
        assert client.recv(100).startswith(b"HTTP/1.1 503 ")
        stopping.join(TIMEOUT)
    assert not stopping.is_alive()
    assert standin.answered == 2


@pytest.mark.parametrize(
    ("head", "kind"),
    [
        (b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", "http"),
        (b"GET / HTTP/1.1\r\nHost: x\r\n", "more"),
        (b"GE", "more"),
        (b"POST /form HTTP/1.0\n\n", "http"),
        (b"\x16\x03\x01", "other"),
        (b"hello\r\n", "other"),
    ],
)
def test_classify(head: bytes, kind: str) -> None:
    assert classify(head) == kind


def test_a_request_is_counted_by_the_time_its_page_is_read(
    listener: socket.socket, standin: StandIn
) -> None:
    standin.start(OUTAGE)
    for count in range(1, 501):  # the count once came after the send: 1 unit run in ~10 saw it lag
        assert get(listener, "HEAD")[0] == 503
        assert standin.answered == count
