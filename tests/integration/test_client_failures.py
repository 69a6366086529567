"""The client in the failures real machines have: killed daemons, dying sockets, odd runtime folders.

Whatever happens, the client registers again with a new daemon, or raises one of
reloadd's own errors (never a zmq, msgpack or OSError one), or falls back to polling.
"""

from __future__ import annotations

import os
import shutil
import signal
import threading
import time
from pathlib import Path

import pytest

from reloadd.client import Client, ReloaddError, Role
from reloadd.protocol.endpoint import endpoint_for
from tests.daemon_process import DaemonProcess
from tests.integration.helpers import QUIET_PERIOD, edit, expect_changes
from tests.integration.scripted_daemon import dying_socket

RECOVERY_TIMEOUT = 20.0
"""The longest a client may take to register with a new daemon after one is killed."""


@pytest.fixture
def backend_name() -> str:
    """These tests are about the client, not the watcher: the built-in one suffices."""
    return "builtin"


def wait_for_new_daemon(client: Client, old_instance: str) -> None:
    """Call ``wait()`` until the client registered with another daemon; never via polling."""
    deadline = time.monotonic() + RECOVERY_TIMEOUT
    while not (client.connected and client.daemon.instance != old_instance):
        assert time.monotonic() < deadline, "the client did not register with a new daemon"
        client.wait(timeout=0.2)  # a file written just before may be reported: not the point
        assert client.backend != "polling", "the client polled instead of starting a daemon"


def drain(client: Client) -> None:
    """Read notifications until none comes for the quiet period."""
    while client.wait(timeout=QUIET_PERIOD):
        pass


def test_a_handshake_reaching_a_dying_socket_starts_a_new_daemon(
    project: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    endpoint = endpoint_for(project)
    with dying_socket(endpoint.socket_path), Client(project, name="web") as client:
        assert client.connected, capfd.readouterr().err
        assert client.backend == "builtin"
    assert "cannot reach" not in capfd.readouterr().err


def test_daemon_killed_again_and_again_is_replaced_each_time(
    daemon: DaemonProcess, project: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    app = project / "app.py"
    app.write_text("x = 1\n")
    with Client(project, name="web", handshake_timeout=0.3) as client:
        client.watch(files=[app])
        for _ in range(15):
            old_instance, old_pid = client.daemon.instance, client.daemon.pid
            os.kill(old_pid, signal.SIGKILL)
            if old_pid == daemon.pid:
                daemon.process.wait(10)  # type: ignore[union-attr]
            wait_for_new_daemon(client, old_instance)
        drain(client)
        edit(app)
        expect_changes(client, app)
    assert "cannot reach" not in capfd.readouterr().err


# -- no library exception escapes ---------------------------------------------------------------


def test_daemon_killed_mid_request_raises_a_reloadd_error(
    daemon: DaemonProcess, project: Path
) -> None:
    client = Client(project, name="tool", role=Role.TOOL, spawn=False, request_timeout=10)
    try:
        os.kill(daemon.pid, signal.SIGSTOP)  # the request will sit unread
        asked = threading.Event()

        def kill_once_asked() -> None:
            asked.wait(10)
            daemon.kill()

        killer = threading.Thread(target=kill_once_asked)
        killer.start()
        asked.set()
        with pytest.raises(ReloaddError) as caught:
            client.status()
        killer.join(10)
        assert type(caught.value).__module__.startswith("reloadd.")
        with pytest.raises(ReloaddError):
            client.status()
    finally:
        client.close()


def test_socket_file_replaced_by_garbage(
    daemon: DaemonProcess, project: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    endpoint = daemon.endpoint
    daemon.kill()
    endpoint.socket_path.unlink()
    endpoint.socket_path.write_bytes(os.urandom(64))
    with pytest.raises(ReloaddError):
        Client(project, spawn=False, handshake_timeout=0.3)
    with dying_socket(endpoint.socket_path, garbage=os.urandom(256)):
        with pytest.raises(ReloaddError):
            Client(project, spawn=False, handshake_timeout=0.3)
        with Client(project, name="web", handshake_timeout=0.3) as client:
            assert client.connected, capfd.readouterr().err


def test_endpoint_folder_removed_while_registered(daemon: DaemonProcess, project: Path) -> None:
    app = project / "app.py"
    app.write_text("x = 1\n")
    folder = daemon.endpoint.socket_path.parent
    with Client(project, name="web", handshake_timeout=0.3) as client:
        client.watch(files=[app])
        old_instance = client.daemon.instance
        shutil.rmtree(folder)
        daemon.kill()
        wait_for_new_daemon(client, old_instance)
        drain(client)
        edit(app)
        expect_changes(client, app)
    shutil.rmtree(folder)
    with pytest.raises(ReloaddError):
        Client(project, spawn=False)


def test_a_path_that_is_not_utf8_is_left_out_with_one_line(
    daemon: DaemonProcess, project: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    app = project / "app.py"
    app.write_text("x = 1\n")
    odd = Path(os.fsdecode(os.fsencode(project) + b"/caf\xe9.py"))
    odd.write_text("y = 1\n")
    with Client(project, name="web", spawn=False) as client:
        assert client.watch(files=[app, odd]).files == 1
        assert client.saved([odd]).notified == 0
        err = capfd.readouterr().err.strip().splitlines()
        assert len(err) == 2, err  # one per call
        assert all("not valid UTF-8" in line and "caf\\xe9.py" in line for line in err)
        edit(app)
        expect_changes(client, app)
