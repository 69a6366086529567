"""Socket activation without systemd: the daemon adopts a listening socket passed as fd 3.

The test plays systemd's part: it listens on the project's endpoint, a client
connects before any daemon runs, then the daemon is started with the socket as
descriptor 3 and ``$LISTEN_FDS``/``$LISTEN_PID`` set (by a tiny exec wrapper, so that
the pid is the daemon's). The client that connected first is served; the socket
file is left in place when the daemon stops.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from reloadd.protocol.endpoint import endpoint_for, ensure_private_dir
from tests.daemon_process import START_TIMEOUT, STOP_TIMEOUT, DaemonProcess

_AS_ACTIVATED = """
import os, sys
os.dup2(int(sys.argv[1]), 3)
os.close(int(sys.argv[1]))
os.environ.update(LISTEN_PID=str(os.getpid()), LISTEN_FDS="1")
os.execv(sys.executable, [sys.executable, *sys.argv[2:]])
"""

_CLIENT = """
import sys
from reloadd.client import Client, Role
with Client(sys.argv[1], name="first", role=Role.TOOL, spawn=False, handshake_timeout=30) as c:
    print(c.daemon.pid, flush=True)
"""


def listen_at(path: Path) -> socket.socket:
    """A listening Unix socket at ``path``, mode 0600, as a socket unit makes it."""
    ensure_private_dir(path.parent)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old = os.umask(0o177)
    try:
        sock.bind(str(path))
    finally:
        os.umask(old)
    sock.listen(16)
    return sock


@pytest.fixture
def listener(project: Path) -> Iterator[socket.socket]:
    sock = listen_at(endpoint_for(project).socket_path)
    yield sock
    sock.close()


def activate(
    project: Path, tmp_path: Path, sock: socket.socket, factory: list[DaemonProcess]
) -> DaemonProcess:
    daemon = DaemonProcess(project, backend="builtin", log_path=tmp_path / "daemon.log")
    factory.append(daemon)
    command = [sys.executable, "-c", _AS_ACTIVATED, str(sock.fileno()), *daemon.command()[1:]]
    with open(daemon.log_path, "ab") as log:
        daemon.process = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, pass_fds=(sock.fileno(),)
        )
    return daemon


def test_the_daemon_serves_the_socket_it_was_passed(
    project: Path, tmp_path: Path, listener: socket.socket, daemon_factory: list[DaemonProcess]
) -> None:
    first = subprocess.Popen(
        [sys.executable, "-c", _CLIENT, str(project)], stdout=subprocess.PIPE, text=True
    )
    try:
        daemon = activate(project, tmp_path, listener, daemon_factory)
        out, _ = first.communicate(timeout=START_TIMEOUT)
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
    assert first.returncode == 0
    assert int(out) == daemon.pid, "the client that connected before the daemon ran is served"
    assert "on the socket systemd passed" in daemon.log()

    assert daemon.process is not None
    daemon.process.send_signal(signal.SIGTERM)
    assert daemon.process.wait(STOP_TIMEOUT) == 0
    socket_path = endpoint_for(project).socket_path
    assert socket_path.is_socket(), "the socket file is systemd's: the daemon leaves it"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        probe.connect(str(socket_path))  # still listening, for the next activation


def test_a_socket_for_another_path_is_refused(
    project: Path, tmp_path: Path, daemon_factory: list[DaemonProcess]
) -> None:
    elsewhere = listen_at(Path(os.environ["XDG_RUNTIME_DIR"]) / "other" / "x.sock")
    try:
        daemon = activate(project, tmp_path, elsewhere, daemon_factory)
        assert daemon.process is not None
        assert daemon.process.wait(START_TIMEOUT) == 1
    finally:
        elsewhere.close()
    assert "not a listening stream socket at this project's endpoint" in daemon.log()
