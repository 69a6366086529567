"""Running out of file descriptors: the daemon caps its connections and never aborts."""

from __future__ import annotations

import os
import resource
import socket
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest

from reloadd.client import Client
from reloadd.daemon.fd_limit import connection_cap
from tests.daemon_process import DaemonProcess
from tests.integration.helpers import NOTIFY_TIMEOUT, edit, expect_changes

FD_LIMIT = 1024
"""The daemon's (soft and hard) RLIMIT_NOFILE in these tests: a common default."""

CONNECTIONS = 2_000


def _lower_fd_limit() -> None:
    resource.setrlimit(resource.RLIMIT_NOFILE, (FD_LIMIT, FD_LIMIT))


def _open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


@contextmanager
def _silent_connections(path: Path, count: int) -> Iterator[list[socket.socket]]:
    """``count`` raw connections to the daemon's socket that never say anything.

    A connection the listen backlog has no room for yet is tried again (up to a deadline);
    one the daemon ends at once still counts: it was accepted.
    """
    deadline = time.monotonic() + 60
    with ExitStack() as stack:
        opened: list[socket.socket] = []
        for _ in range(count):
            while True:
                sock = stack.enter_context(socket.socket(socket.AF_UNIX, socket.SOCK_STREAM))
                sock.setblocking(False)
                try:
                    sock.connect(str(path))
                except BlockingIOError:  # the backlog is full: the daemon has not accepted yet
                    sock.close()
                    assert time.monotonic() < deadline, "the daemon stopped accepting"
                    time.sleep(0.001)
                    continue
                opened.append(sock)
                break
        yield opened


def test_2000_connections_under_a_1024_fd_limit_leave_the_daemon_serving(
    project: Path, tmp_path: Path, daemon_factory: list[DaemonProcess]
) -> None:
    daemon = DaemonProcess(
        project, backend="builtin", log_path=tmp_path / "daemon.log", preexec_fn=_lower_fd_limit
    )
    daemon_factory.append(daemon)
    daemon.start()
    app = project / "app.py"
    app.write_text("x = 1\n")
    with Client(project, spawn=False) as client:
        client.watch(files=[app])
        with _silent_connections(daemon.endpoint.socket_path, CONNECTIONS) as opened:
            assert daemon.process is not None
            assert daemon.process.poll() is None, daemon.log()
            assert len(opened) == CONNECTIONS > FD_LIMIT > connection_cap(FD_LIMIT)
            assert _open_fds(daemon.pid) < FD_LIMIT
            edit(app)
            expect_changes(client, app)  # a client connected before is served throughout
        # Once the silent connections are gone, a new client gets in.
        deadline = time.monotonic() + NOTIFY_TIMEOUT
        while True:
            try:
                with Client(project, spawn=False, handshake_timeout=1.0) as late:
                    late.watch(files=[app])
                    assert late.status().pid == daemon.pid
                    break
            except Exception:
                if time.monotonic() > deadline:
                    raise
        edit(app)
        expect_changes(client, app)
    log = daemon.log()
    assert "Too many open files" not in log
    assert "refusing new ones" in log
    assert daemon.process.poll() is None


def test_builtin_watcher_works_with_descriptors_above_1024(
    project: Path, tmp_path: Path, daemon_factory: list[DaemonProcess]
) -> None:
    with ExitStack() as stack:
        # Inherited at their numbers, these push every descriptor the daemon opens past 1100.
        fds = [os.open(os.devnull, os.O_RDONLY) for _ in range(1100)]
        for fd in fds:
            stack.callback(os.close, fd)
        daemon = DaemonProcess(
            project, backend="builtin", log_path=tmp_path / "daemon.log", pass_fds=fds
        )
        daemon_factory.append(daemon)
        daemon.start()
    app = project / "app.py"
    app.write_text("x = 1\n")
    with Client(project, spawn=False) as client:
        client.watch(files=[app])
        inotify = [
            int(fd)
            for fd in os.listdir(f"/proc/{daemon.pid}/fd")
            if os.readlink(f"/proc/{daemon.pid}/fd/{fd}") == "anon_inode:inotify"
        ]
        assert inotify
        assert min(inotify) > 1024
        for _ in range(3):
            edit(app)
            expect_changes(client, app)
    log = daemon.log()
    assert "failed" not in log, log
    assert "out of range" not in log


def test_the_soft_fd_limit_is_raised_at_start(
    project: Path, tmp_path: Path, daemon_factory: list[DaemonProcess]
) -> None:
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard <= 256:
        pytest.fail(f"this machine's hard limit of open files ({hard}) is too low to test")
    wanted = 256

    def lower_soft_limit() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))

    daemon = DaemonProcess(
        project, backend="builtin", log_path=tmp_path / "daemon.log", preexec_fn=lower_soft_limit
    )
    daemon_factory.append(daemon)
    daemon.start()
    limits = Path(f"/proc/{daemon.pid}/limits").read_text()
    line = next(row for row in limits.splitlines() if row.startswith("Max open files"))
    assert int(line.split()[3]) > wanted, line
