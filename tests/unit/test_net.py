"""The tests' port helper: ports the kernel never hands out to someone else meanwhile."""

from __future__ import annotations

import socket

from tests.net import ephemeral_range, free_port, listening_socket


def test_free_port_is_outside_the_kernels_ephemeral_range_and_free() -> None:
    low, high = ephemeral_range()
    ports = [free_port() for _ in range(20)]
    assert len(set(ports)) == len(ports), "a port is handed out once per run"
    for port in ports:
        assert not low <= port <= high, f"{port} may be given to any bind(0) or connect meanwhile"
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", port))


def test_listening_socket_accepts_connections() -> None:
    with listening_socket() as server, socket.create_connection(server.getsockname()[:2], 5):
        conn, _ = server.accept()
        conn.close()
