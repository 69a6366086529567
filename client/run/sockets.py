"""``--socket``: listening sockets bound once by the supervisor and handed to every child.

The handoff is systemd's socket activation protocol, as watchexec and systemfd
use it: the child finds the sockets as file descriptors 3, 4, ..., with
``LISTEN_FDS`` (how many) and ``LISTEN_PID`` (its own pid, so that its own
children do not take them too). Since the sockets stay open in the supervisor
while a child restarts, a connection made meanwhile waits in the backlog and
the next child answers it.

``LISTEN_PID`` must be the child's pid, known only after the fork: the command
is started through ``listen_shim.py``, a few lines of Python (``-S -I``, no
imports of ours) that move the descriptors into place, set the variables and
``exec`` the command, keeping its pid.
"""

from __future__ import annotations

import os
import socket
import sys
from dataclasses import dataclass
from pathlib import Path

SD_LISTEN_FDS_START = 3
"""The first descriptor of the protocol."""

SHIM = Path(__file__).with_name("listen_shim.py")
"""The script that puts the sockets in place and runs the command."""


@dataclass(frozen=True)
class SocketSpec:
    """A TCP address to listen on."""

    host: str
    port: int

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"

    @classmethod
    def of(cls, sock: socket.socket) -> SocketSpec:
        """The address ``sock`` is bound to."""
        host, port = sock.getsockname()[:2]
        return cls(host, port)


def parse_socket_spec(text: str) -> SocketSpec:
    """``PORT``, ``HOST:PORT`` or ``[IPV6]:PORT``; raise ValueError with the expected forms."""
    host, _, port_text = text.strip().rpartition(":")
    host = host.strip("[]") or "127.0.0.1"
    try:
        port = int(port_text)
    except ValueError:
        raise ValueError("expected PORT, HOST:PORT or [IPV6]:PORT, e.g. 8000") from None
    if not 0 <= port <= 65535:
        raise ValueError(f"port {port} is out of range (0 to 65535)")
    return SocketSpec(host, port)


def bind(spec: SocketSpec, *, backlog: int = socket.SOMAXCONN) -> socket.socket:
    """A listening TCP socket on ``spec`` (address reuse on, as dev servers do)."""
    infos = socket.getaddrinfo(
        spec.host, spec.port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(backlog)
    except OSError:
        sock.close()
        raise
    return sock


def shim_command(fds: list[int], command: list[str]) -> list[str]:
    """The command line that runs ``command`` with ``fds`` as descriptors 3, 4, ..."""
    return [
        sys.executable,
        "-S",
        "-I",
        str(SHIM),
        ",".join(map(str, fds)),
        *command,
    ]


def listen_sockets(*, unset_environment: bool = False) -> list[socket.socket]:
    """The sockets this process was handed (``reloadd run --socket``, systemd), else [].

    For servers that take a socket object, such as werkzeug::

        sock = listen_sockets()[0]
        make_server("127.0.0.1", 8000, app, fd=sock.fileno()).serve_forever()
    """
    if os.environ.get("LISTEN_PID") != str(os.getpid()):
        return []
    try:
        count = int(os.environ.get("LISTEN_FDS", "0"))
    except ValueError:
        return []
    if unset_environment:
        for name in ("LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"):
            os.environ.pop(name, None)
    return [
        socket.socket(fileno=fd) for fd in range(SD_LISTEN_FDS_START, SD_LISTEN_FDS_START + count)
    ]
