"""The stand-in's answers to a browser: the crash on the page's event stream, the script, an
HTML ``503`` page carrying it. Real sockets on loopback."""

from __future__ import annotations

import http.client
import socket
from collections.abc import Iterator

import pytest

from reloadd.client.browser.assets import script
from reloadd.client.browser.outage import browser_answer, target, wants_html
from reloadd.client.standin import Outage, StandIn
from reloadd.protocol import Crash
from tests.net import listening_socket

TIMEOUT = 10.0

CRASH = Crash("SyntaxError", "invalid syntax", "/p/app/views.py", 12)
OUTAGE = Outage("runserver could not start", "app/views.py:12: SyntaxError", crash=CRASH)


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    with listening_socket() as sock:
        yield sock


@pytest.fixture
def standin(listener: socket.socket) -> Iterator[StandIn]:
    stand_in = StandIn([listener])
    stand_in.start(OUTAGE)
    yield stand_in
    stand_in.close()


def connect(listener: socket.socket) -> http.client.HTTPConnection:
    host, port = listener.getsockname()[:2]
    return http.client.HTTPConnection(host, port, timeout=TIMEOUT)


def test_the_event_stream_carries_the_crash_and_stays_open_until_the_stand_in_stops(
    listener: socket.socket, standin: StandIn
) -> None:
    connection = connect(listener)
    connection.request("GET", "/__reloadd__/events")
    response = connection.getresponse()
    assert response.status == 200
    assert response.getheader("Content-Type", "").startswith("text/event-stream")
    assert response.readline() == b"event: crashed\n"
    data = response.readline()
    assert b'"file":"/p/app/views.py"' in data
    assert b'"line":12' in data
    assert b'"message":"invalid syntax"' in data
    assert response.readline() == b"\n"
    standin.stop()
    assert response.read() == b""  # ended: the page connects again, to the next server
    connection.close()


def test_a_page_that_goes_away_frees_its_stream(listener: socket.socket, standin: StandIn) -> None:
    for _ in range(3):
        connection = connect(listener)
        connection.request("GET", "/__reloadd__/events")
        assert connection.getresponse().status == 200
        connection.close()
    # The stand-in still answers (nothing is stuck on the pages that left).
    connection = connect(listener)
    connection.request("GET", "/page")
    assert connection.getresponse().status == 503
    connection.close()


def test_the_script_is_served(listener: socket.socket, standin: StandIn) -> None:
    connection = connect(listener)
    connection.request("GET", "/__reloadd__/reload.js")
    response = connection.getresponse()
    assert response.status == 200
    assert response.read() == script()
    connection.close()


def test_a_browser_gets_an_html_503_page_with_the_script(
    listener: socket.socket, standin: StandIn
) -> None:
    connection = connect(listener)
    connection.request("GET", "/", headers={"Accept": "text/html,application/xhtml+xml"})
    response = connection.getresponse()
    assert response.status == 503
    assert response.getheader("Content-Type", "").startswith("text/html")
    page = response.read().decode()
    assert 'src="/__reloadd__/reload.js"' in page
    assert "app/views.py:12: SyntaxError" in page
    connection.close()


def test_other_clients_get_the_plain_text_page(listener: socket.socket, standin: StandIn) -> None:
    connection = connect(listener)
    connection.request("GET", "/", headers={"Accept": "*/*"})
    response = connection.getresponse()
    assert response.status == 503
    assert response.getheader("Content-Type", "").startswith("text/plain")
    connection.close()


def test_the_page_escapes_the_error() -> None:
    outage = Outage("x", "<script>alert(1)</script>")
    answer = browser_answer(b"GET / HTTP/1.1\r\nAccept: text/html\r\n\r\n", outage)
    assert answer is not None
    assert b"<script>alert(1)" not in answer.data
    assert b"&lt;script&gt;" in answer.data


def test_without_a_crash_the_page_shows_the_outage_text() -> None:
    outage = Outage("python app.py exited with code 1", "")
    answer = browser_answer(b"GET /__reloadd__/events HTTP/1.1\r\n\r\n", outage)
    assert answer is not None
    assert answer.hold
    assert b'"message":"python app.py exited with code 1"' in answer.data


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (b"GET /a?b=c HTTP/1.1\r\n", ("GET", "/a")),
        (b"HEAD / HTTP/1.0\r\n", ("HEAD", "/")),
        (b"garbage", ("", "")),
    ],
)
def test_target(head: bytes, expected: tuple[str, str]) -> None:
    assert target(head) == expected


def test_wants_html_reads_any_accept_header_case_insensitively() -> None:
    assert wants_html(b"GET / HTTP/1.1\r\nHost: x\r\naccept: TEXT/HTML\r\n\r\n")
    assert not wants_html(b"GET / HTTP/1.1\r\nAccept: application/json\r\n\r\n")
