"""Daemons that misbehave on purpose, as real processes on real ZeroMQ sockets.

A real ``reloadd serve`` never hangs or lingers on request, so these stand in for
the two cases the command line must report: a daemon that holds its project's
lock but answers nobody (busy or hung), and one that says it stops but keeps
running. Each is stopped by its pid after the test.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from reloadd.protocol.endpoint import Endpoint, ensure_private_dir

_SCRIPT = textwrap.dedent(
    """
    import fcntl, os, sys, zmq
    from reloadd.protocol import (
        PROTOCOL_VERSION, Hello, Status, StatusReply, Stop, Stopping, Welcome, decode, encode,
    )

    mode, root, socket_path, lock_path = sys.argv[1:5]
    lock = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(lock, fcntl.LOCK_EX)
    os.ftruncate(lock, 0)
    os.write(lock, f"{os.getpid()}\\n".encode())
    context = zmq.Context()
    router = context.socket(zmq.ROUTER)
    os.umask(0o177)  # 0600, as a real daemon binds it: clients refuse anything looser
    router.bind(f"ipc://{socket_path}")
    print("ready", flush=True)
    while True:
        identity, data = router.recv_multipart()
        if mode == "silent":
            continue
        message = decode(data)
        if isinstance(message, Hello):
            reply = Welcome(
                re=message.id, protocol=PROTOCOL_VERSION, instance="lingering", root=root,
                backend="none", pid=os.getpid(),
            )
        elif isinstance(message, Stop):
            reply = Stopping(re=message.id)  # and goes on running
        elif isinstance(message, Status):
            reply = StatusReply(
                re=message.id, root=root, endpoint=f"ipc://{socket_path}", pid=os.getpid(),
                backend="none", protocol=PROTOCOL_VERSION, instance="lingering",
                started_at=0.0, watched_roots=(), clients=(),
            )
        else:
            continue
        router.send_multipart([identity, encode(reply)])
    """
)


@contextmanager
def odd_daemon(mode: str, endpoint: Endpoint) -> Iterator[subprocess.Popen[str]]:
    """Run a ``silent`` or ``lingering`` daemon on ``endpoint``; stop it by pid afterwards."""
    ensure_private_dir(endpoint.socket_path.parent)
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            _SCRIPT,
            mode,
            str(endpoint.root),
            str(endpoint.socket_path),
            str(endpoint.lock_path),
        ],
        stdout=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout is not None
        if process.stdout.readline().strip() != "ready":  # bounded by the suite's timeout
            pytest.fail(f"the {mode} daemon did not start")
        yield process
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(10)
        if process.stdout is not None:
            process.stdout.close()
        endpoint.socket_path.unlink(missing_ok=True)


def wait_until_gone(pid: int, timeout: float = 30.0) -> bool:
    """Wait up to ``timeout`` seconds for process ``pid`` to exit (a zombie counts as gone)."""
    from reloadd.client.daemons import process_alive

    deadline = time.monotonic() + timeout
    while process_alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True
