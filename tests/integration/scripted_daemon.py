"""A scripted daemon: a real ROUTER socket on a project's endpoint that answers as a test says.

For what a real daemon does not do on demand: another protocol version, a notification
whose parts arrive apart. Everything else is tested against real daemons.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import zmq

from reloadd.protocol import PROTOCOL_VERSION, Hello, Message, Ping, Pong, Welcome, decode, encode
from reloadd.protocol.endpoint import endpoint_for

Script = Callable[[Message], Sequence["Message | float"]]
"""What to send back for a message: messages, and pauses (seconds) between them."""

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


def answer_pings(message: Message) -> Sequence[Message | float]:
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
    stopped = threading.Event()

    def serve() -> None:
        while not stopped.is_set():
            if not router.poll(50):
                continue
            identity, data = router.recv_multipart()
            for item in script(decode(data)):
                if isinstance(item, float):
                    stopped.wait(item)
                else:
                    router.send_multipart([identity, encode(item)])

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stopped.set()
        thread.join(5)
        router.close()
        context.term()
