"""Ports for test servers on the loopback interface, without the ``bind(0)``-then-close race.

The usual helper binds port 0, closes the socket and returns the port. The
kernel takes that port from its ephemeral range, so until the server binds it,
any outgoing connection or other ``bind(0)`` on the machine (other tests run
at the same time) may be given it too. :func:`free_port` picks a port outside
the ephemeral range, which the kernel never hands out by itself, checks that
nothing holds it, and never returns the same port twice in one test run; the
only way to lose it is another program choosing that same port on purpose.
When the server can take a socket, :func:`listening_socket` avoids the
question entirely: it hands over a socket already bound.
"""

from __future__ import annotations

import random
import socket
from pathlib import Path

HOST = "127.0.0.1"

FALLBACK_EPHEMERAL = (32768, 60999)
"""Linux's default ephemeral range, when ``/proc`` does not say."""

LOWEST = 10000
"""The lowest port handed out: well above the ports of common services."""

ATTEMPTS = 200
"""Ports tried before giving up."""

_given: set[int] = set()


def ephemeral_range() -> tuple[int, int]:
    """The kernel's range for ``bind(0)`` and outgoing connections (inclusive)."""
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return FALLBACK_EPHEMERAL


def _candidates() -> list[int]:
    low, high = ephemeral_range()
    ports = [p for p in range(LOWEST, 65536) if not low <= p <= high and p not in _given]
    return random.sample(ports, min(ATTEMPTS, len(ports)))


def free_port(host: str = HOST) -> int:
    """A TCP port on ``host`` that nothing holds now and the kernel will not hand out."""
    for port in _candidates():
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            try:
                probe.bind((host, port))
            except OSError:
                continue
        _given.add(port)
        return port
    raise RuntimeError(f"no free port outside the ephemeral range after {ATTEMPTS} tries")


def listening_socket(host: str = HOST) -> socket.socket:
    """A socket bound to a free port on ``host`` and listening: hand it to the server."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.bind((host, 0))
        sock.listen()
    except OSError:
        sock.close()
        raise
    return sock
