"""The kept socket's single functions: which command gets one, the handover text, the page, the drain.

The whole of it (``runserver``'s two processes) is in ``tests/integration/test_django_socket.py``.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.core.management.commands import runserver  # type: ignore[import-untyped]
from django.core.servers import basehttp  # type: ignore[import-untyped]

from reloadd.client.django import kept_socket
from reloadd.client.django.drain import Drain

TIMEOUT = 10.0


def command(addr: str = "127.0.0.1", *, ipv6: bool = False) -> Any:
    """A ``runserver`` command as ``handle()`` leaves it before ``run()``."""
    cmd = runserver.Command()
    cmd.addr, cmd.port, cmd.use_ipv6 = addr, "0", ipv6
    return cmd


def test_stock_runserver_gets_an_inheritable_listening_socket() -> None:
    sock = kept_socket._bind_for(command())
    assert sock is not None
    with sock:
        assert sock.get_inheritable()
        assert sock.getsockname()[0] == "127.0.0.1"
        with socket.create_connection(sock.getsockname()[:2], timeout=TIMEOUT):
            pass  # listening: the connection waits in the backlog


def test_ipv6_runserver_gets_an_ipv6_socket() -> None:
    sock = kept_socket._bind_for(command("::1", ipv6=True))
    assert sock is not None
    with sock:
        assert sock.family == socket.AF_INET6


def test_a_runserver_with_its_own_server_keeps_djangos_behaviour_and_says_so(
    capsys: pytest.CaptureFixture[str],
) -> None:
    class AsgiRunserver(runserver.Command):  # type: ignore[misc]
        """As Daphne's and Channels' runserver: inner_run serves with another server."""

        def inner_run(self, *args: object, **options: object) -> None:
            """Serves with another server."""

    cmd = AsgiRunserver()
    cmd.addr, cmd.port, cmd.use_ipv6 = "127.0.0.1", "0", False
    assert kept_socket._bind_for(cmd) is None
    assert "serves with its own server" in capsys.readouterr().err


def test_another_command_is_left_alone(capsys: pytest.CaptureFixture[str]) -> None:
    assert kept_socket._bind_for(object()) is None
    assert capsys.readouterr().err == ""


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    with socket.create_server(("127.0.0.1", 0)) as sock:
        yield sock


def test_the_handover_is_taken_only_for_this_parent_and_address(listener: socket.socket) -> None:
    port = listener.getsockname()[1]
    fd = os.dup(listener.fileno())
    try:
        assert kept_socket._parse(f"{fd}:{os.getpid() + 1}:{port}:127.0.0.1") is None
        assert kept_socket._parse(f"{fd}:{os.getppid()}:{port + 1}:127.0.0.1") is None
        assert kept_socket._parse("") is None
    finally:
        os.close(fd)
    taken = kept_socket._parse(f"{os.dup(listener.fileno())}:{os.getppid()}:{port}:127.0.0.1")
    assert taken is not None
    with taken:
        taken.bind(("127.0.0.1", port))  # already bound: does nothing
        taken.listen(1)
        assert taken.getblocking()


def test_the_page_names_the_error_and_its_place_in_the_project(tmp_path: Path) -> None:
    views = tmp_path / "pages" / "views.py"
    error = SyntaxError("invalid syntax", (str(views), 22, 12, "def broken(:\n"))
    outage = kept_socket.outage_of(error, tmp_path)
    assert outage.error == "pages/views.py:22: SyntaxError: invalid syntax"
    assert "restarts it at the next change" in outage.page()


def test_a_drained_server_answers_the_request_it_took_before_finish_returns() -> None:
    called = threading.Event()
    drain: Drain | None = None

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        called.set()
        deadline = time.monotonic() + TIMEOUT
        while not (drain is not None and drain.finishing) and time.monotonic() < deadline:
            time.sleep(0.005)  # answer only once finish() has begun
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "4")])
        return [b"done"]

    # --nothreading's server (the threaded one closes database connections: settings needed).
    server = basehttp.WSGIServer(("127.0.0.1", 0), basehttp.WSGIRequestHandler)
    server.set_app(app)
    drain = Drain(server)
    serving = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    serving.start()
    try:
        with socket.create_connection(server.server_address[:2], timeout=TIMEOUT) as client:
            client.sendall(b"GET / HTTP/1.0\r\n\r\n")
            assert called.wait(TIMEOUT)
            drain.finish()
            answer = client.recv(65536, socket.MSG_DONTWAIT)  # already there: no wait
        assert answer.split(b" ", 2)[1] == b"200"
        assert answer.endswith(b"done")
    finally:
        server.shutdown()
        serving.join(TIMEOUT)
        server.server_close()
