"""Fake daemons on real sockets, for what a real daemon does not do on demand.

:func:`scripted_daemon` answers as a test says (another protocol version, a notification
whose parts arrive apart); :func:`dying_socket` accepts connections and drops them, as
the socket of a daemon being killed does. Everything else is tested against real daemons.
"""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import zmq

from reloadd.protocol import PROTOCOL_VERSION, Hello, Message, Ping, Pong, Welcome, decode, encode
from reloadd.protocol.endpoint import endpoint_for

Script = Callable[[Message], Sequence["Message | float | bytes"]]
"""What to send back for a message: messages (or raw frames), and pauses (seconds) between them."""

INSTANCE = "scripted"


def welcome(hello: Hello, project: Path, protocol: int = PROTOCOL_VERSION) -> Welcome:
    """The ``welcome`` a daemon of ``protocol`` would send."""
    return Welcome(
        re=hello.id,
        protocol=protocol,
        instance=INSTANCE,
        root=str(project),
        backend="scripted",
        pid=os.getpid(),
    )


def answer_pings(message: Message) -> Sequence[Message | float | bytes]:
    """The default for messages a script does not handle: pongs to pings, nothing else."""
    return [Pong(re=message.id, instance=INSTANCE)] if isinstance(message, Ping) else []


@contextmanager
def scripted_daemon(project: Path, script: Script) -> Iterator[None]:
    """Serve ``script`` on ``project``'s endpoint (bound 0600 in a 0700 folder) until the end."""
    endpoint = endpoint_for(project)
    endpoint.socket_path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    context: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    router = context.socket(zmq.ROUTER)
    router.setsockopt(zmq.LINGER, 0)
    old_umask = os.umask(0o177)
    try:
        router.bind(endpoint.address)
    finally:
        os.umask(old_umask)

    def serve(stopped: threading.Event) -> None:
        while not stopped.is_set():
            if not router.poll(50):
                continue
            identity, data = router.recv_multipart()
            for item in script(decode(data)):
                if isinstance(item, float):
                    stopped.wait(item)
                elif isinstance(item, bytes):
                    router.send_multipart([identity, item])
                else:
                    router.send_multipart([identity, encode(item)])

    try:
        with served(serve):
            yield
    finally:
        router.close()
        context.term()


@contextmanager
def served(serve: Callable[[threading.Event], None]) -> Iterator[None]:
    """Run ``serve(stopped)`` on a thread for the block; it returns once ``stopped`` is set."""
    stopped = threading.Event()
    thread = threading.Thread(target=serve, args=(stopped,), daemon=True)
    thread.start()
    try:
        yield
    finally:
        stopped.set()
        thread.join(5)


@contextmanager
def dying_socket(path: Path, garbage: bytes = b"") -> Iterator[None]:
    """A Unix socket at ``path`` that accepts connections and drops them (after ``garbage``).

    What a client meets when it connects just as a killed daemon's socket goes away.
    """
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old_umask = os.umask(0o177)
    try:
        listener.bind(str(path))
    finally:
        os.umask(old_umask)
    listener.listen(16)
    listener.settimeout(0.05)

    def serve(stopped: threading.Event) -> None:
        while not stopped.is_set():
            try:
                connection, _ = listener.accept()
            except OSError:
                continue
            with connection:
                try:
                    connection.sendall(garbage)
                except OSError:
                    pass  # the client hung up first

    with listener, served(serve):
        yield
