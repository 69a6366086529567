"""Socket activation: adopting the listening socket systemd passes (``sd_listen_fds(3)``).

With ``reloadd service install --socket`` a ``reloadd@<root>.socket`` unit listens
on the project's endpoint, and systemd starts the daemon when the first client
connects. systemd passes the listening socket as file descriptor 3, with
``$LISTEN_FDS=1`` and ``$LISTEN_PID`` naming the daemon; the daemon hands it to
ZeroMQ (``ZMQ_USE_FD``) instead of binding a new one, so the connection that woke
it is served, and the socket file stays systemd's (never removed by the daemon).
"""

from __future__ import annotations

import os
import socket
from collections.abc import MutableMapping
from pathlib import Path

from reloadd.protocol import EndpointError

SD_LISTEN_FDS_START = 3
"""The first descriptor systemd passes (``SD_LISTEN_FDS_START``)."""


def listening_socket(expected: Path, environ: MutableMapping[str, str] | None = None) -> int | None:
    """The descriptor systemd passed for ``expected`` (the endpoint's socket path), or None.

    None when systemd passed nothing for this process. Raises :class:`EndpointError`
    when what it passed is not one listening Unix stream socket at ``expected`` (a
    socket unit written for another project root, say). The ``LISTEN_*`` variables
    are removed either way, so that no child takes the socket for its own.
    """
    env = os.environ if environ is None else environ
    pid = env.pop("LISTEN_PID", "")
    count = env.pop("LISTEN_FDS", "")
    env.pop("LISTEN_FDNAMES", None)
    if not count or pid != str(os.getpid()):
        return None
    if count != "1":
        raise EndpointError(
            f"systemd passed {count} sockets; the socket unit must listen on exactly one, "
            f"{expected}"
        )
    fd = SD_LISTEN_FDS_START
    try:
        sock = socket.socket(fileno=fd)
    except OSError as exc:
        raise EndpointError(
            f"systemd passed descriptor {fd}, which is not a socket: {exc}"
        ) from exc
    try:
        bound = sock.getsockname()
        accepting = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN)
        kind = (sock.family, sock.type)
    finally:
        sock.detach()  # the descriptor stays open, for ZeroMQ
    if kind != (socket.AF_UNIX, socket.SOCK_STREAM) or not accepting or bound != str(expected):
        raise EndpointError(
            f"systemd passed a socket for {bound!r}, not a listening stream socket at this "
            f"project's endpoint {expected}; fix ListenStream= in the socket unit "
            "('reloadd service install --socket' writes it)"
        )
    os.set_inheritable(fd, False)
    return fd
