"""When a ``reloadd run`` child serves: ``/proc`` read for real, with real sockets and processes."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import pytest

from reloadd.client.run import proc_net
from reloadd.client.run.readiness import READY_AFTER, Readiness

WAIT = 10.0


def test_a_proc_tcp_line_is_parsed_in_the_kernel_byte_order() -> None:
    table = (
        "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  "
        "timeout inode\n"
        "   0: 0100007F:1F40 00000000:0000 0A 00000000:00000000 00:00000000 00000000  0  0 "
        "4242 1 0000000000000000 100 0 0 10 0\n"
        "   1: garbage\n"
    )
    if sys.byteorder != "little":
        table = table.replace("0100007F", "7F000001")
    (entry,) = proc_net.parse_tcp_table(table)
    assert entry == proc_net.TcpSocket(("127.0.0.1", 8000), ("0.0.0.0", 0), 0x0A, 4242)


def test_an_ipv6_address_is_parsed() -> None:
    loopback = "00000000000000000000000001000000" if sys.byteorder == "little" else "0" * 31 + "1"
    assert proc_net.parse_address(f"{loopback}:0050") == ("::1", 80)


LISTEN_WHEN_TOLD = (
    "import os, socket, sys\n"
    "print(os.getpid(), flush=True)\n"
    "sys.stdin.readline()\n"
    "server = socket.socket(); server.bind(('127.0.0.1', 0)); server.listen()\n"
    "print(server.getsockname()[1], flush=True)\n"
    "sys.stdin.readline()\n"
)


def wait_ready(readiness: Readiness) -> str:
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        ready = readiness.check()
        if ready is not None:
            return ready.how
        time.sleep(readiness.next_check())
    pytest.fail("never ready")


def test_a_grandchild_listening_makes_the_child_ready_and_not_before() -> None:
    # The child is a shell; the process that listens is the Python it started.
    with subprocess.Popen(
        ["sh", "-c", f'{sys.executable} -c "$0"', LISTEN_WHEN_TOLD],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    ) as shell:
        assert shell.stdout is not None
        assert shell.stdin is not None
        try:
            assert int(shell.stdout.readline()) != shell.pid  # the grandchild is up
            readiness = Readiness(shell.pid, [], moment=False)
            assert proc_net.listening(shell.pid) == []
            assert readiness.check() is None
            shell.stdin.write("listen\n")
            shell.stdin.flush()
            port = int(shell.stdout.readline())
            assert wait_ready(readiness) == f"listens on 127.0.0.1:{port}"
        finally:
            shell.stdin.close()  # the grandchild reads end-of-file and exits, then the shell
            shell.wait(WAIT)


def test_with_a_kept_socket_ready_is_when_the_probe_leaves_the_accept_queue() -> None:
    with socket.socket() as kept:
        kept.bind(("127.0.0.1", 0))
        kept.listen()
        readiness = Readiness(1, [kept], moment=False)  # the probe is queued now
        time.sleep(readiness.next_check())
        assert readiness.check() is None, "nobody accepted yet"
        connection, _ = kept.accept()
        connection.close()
        assert wait_ready(readiness) == f"accepts on 127.0.0.1:{kept.getsockname()[1]}"


def test_the_moment_begins_again_at_each_import() -> None:
    readiness = Readiness(1, [], moment=True)
    first = readiness.last_import
    readiness.imported()
    assert readiness.last_import > first
    assert readiness.check() is None, f"not ready before {READY_AFTER} s without an import"


def test_only_tcp_sockets_send_a_look_to_the_tcp_table() -> None:
    with socket.socket(socket.AF_UNIX) as unix, socket.socket() as tcp:
        inodes = proc_net.socket_inodes([os.getpid()], tcp_only=True)
        assert os.fstat(tcp.fileno()).st_ino in inodes
        assert os.fstat(unix.fileno()).st_ino not in inodes


def test_the_accept_queue_length_of_a_listening_socket() -> None:
    with socket.socket() as kept:
        kept.bind(("127.0.0.1", 0))
        kept.listen()
        assert proc_net.accept_queue(kept) == 0
        with socket.create_connection(kept.getsockname()):
            deadline = time.monotonic() + WAIT
            while proc_net.accept_queue(kept) != 1:  # the handshake ends in the kernel's time
                assert time.monotonic() < deadline
                time.sleep(0.001)
            connection, _ = kept.accept()
            connection.close()
        assert proc_net.accept_queue(kept) == 0
