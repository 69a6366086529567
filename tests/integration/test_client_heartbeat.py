"""Heartbeats that do not depend on the application, and notifications sent in parts."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import zmq

from reloadd.client import Client, Role, State
from reloadd.daemon.server import HEARTBEAT, SILENCE_LIMIT
from reloadd.protocol import (
    PROTOCOL_VERSION,
    Changed,
    Hello,
    Ping,
    Pong,
    Watch,
    Watching,
    Welcome,
    decode,
    encode,
)
from reloadd.protocol.endpoint import endpoint_for
from tests.daemon_process import DaemonProcess
from tests.integration.helpers import QUIET_PERIOD, edit, expect_changes


@pytest.fixture
def backend_name() -> str:
    """These tests are about the client's connection: the built-in watcher suffices."""
    return "builtin"


def web_client_info(project: Path) -> tuple[float, bool]:
    """When the daemon says the client "web" connected, and whether it is connected now."""
    with Client(project, name="probe", role=Role.TOOL, spawn=False) as probe:
        (web,) = [c for c in probe.status().clients if c.name == "web"]
    return web.connected_at, web.connected


def test_a_busy_application_gets_one_notification_and_keeps_its_connection(
    daemon: DaemonProcess, project: Path
) -> None:
    app = project / "app.py"
    app.write_text("x = 1\n")
    with Client(project, name="web", spawn=False) as client:
        client.watch(files=[app])
        instance = client.daemon.instance
        connected_at, _ = web_client_info(project)
        edit(app)
        # The application is busy (a long request, a breakpoint) and does not call wait()
        # for longer than both sides' silence limits: that duration is the scenario.
        time.sleep(SILENCE_LIMIT + HEARTBEAT)
        expect_changes(client, app)
        assert client.state is State.REGISTERED
        assert client.daemon.instance == instance
        assert web_client_info(project) == (connected_at, True), "the client connected again"
    assert "was silent" not in daemon.log()


@contextmanager
def scripted_daemon(project: Path, parts: list[list[str]], pause: float) -> Iterator[None]:
    """A real ROUTER socket on the project's endpoint that welcomes one client, acknowledges
    its watch, then sends one notification in ``parts``, ``pause`` seconds apart."""
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
            message = decode(data)
            if isinstance(message, Hello):
                reply: object = Welcome(
                    re=message.id,
                    protocol=PROTOCOL_VERSION,
                    instance="scripted",
                    root=str(project),
                    backend="scripted",
                    pid=os.getpid(),
                )
            elif isinstance(message, Ping):
                reply = Pong(re=message.id, instance="scripted")
            elif isinstance(message, Watch):
                router.send_multipart(
                    [identity, encode(Watching(re=message.id, files=len(message.files), globs=0))]
                )
                for i, part in enumerate(parts):
                    if i:
                        stopped.wait(pause)
                    more = i < len(parts) - 1
                    router.send_multipart([identity, encode(Changed(paths=tuple(part), more=more))])
                continue
            else:
                continue
            assert isinstance(reply, (Welcome, Pong))
            router.send_multipart([identity, encode(reply)])

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stopped.set()
        thread.join(5)
        router.close()
        context.term()


def test_a_notification_in_parts_is_returned_whole(project: Path) -> None:
    a, b, c = (str(project / name) for name in ("a.py", "b.py", "c.py"))
    # The daemon sends the parts of one notification at once; the pause between them
    # stands for a part that is still on its way when the client reads the first.
    with (
        scripted_daemon(project, [[a], [b], [c]], pause=0.3),
        Client(project, name="web", spawn=False) as client,
    ):
        assert client.backend == "scripted"
        client.watch(files=[a, b, c])
        assert sorted(map(str, client.wait(timeout=10))) == [a, b, c]
        assert client.wait(timeout=QUIET_PERIOD) == []
