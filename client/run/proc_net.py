"""What ``/proc`` tells of a child's TCP sockets: which it listens on, and whether a connection was accepted.

Linux only. ``/proc/<pid>/net/tcp`` and ``tcp6`` list every TCP socket of the
process's network namespace with its state and inode (0 for a connection still
waiting in a listener's accept queue, which no file holds yet);
``/proc/<pid>/fd`` links each of the process's descriptors, ``socket:[INODE]`` for
a socket; ``/proc/<pid>/task/<tid>/children`` names the processes it started.
Where ``/proc`` cannot be read the functions say so (None), never guess.
"""

from __future__ import annotations

import os
import socket
import struct
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

PROC = Path("/proc")
"""Where the kernel's process information is mounted."""

TCP_ESTABLISHED = 0x01
"""The ``st`` column of a connected socket."""

TCP_CLOSE_WAIT = 0x08
"""The ``st`` column of a connection whose other end closed, not yet closed here."""

TCP_LISTEN = 0x0A
"""The ``st`` column of a listening socket."""

TCP_INFO_SIZE = 104
"""Bytes of ``struct tcp_info`` read (its first fields are enough)."""

TCP_INFO_UNACKED = 24
"""The offset of ``tcpi_unacked``: for a listening socket, its accept queue's length."""

Address = tuple[str, int]
"""A host (as ``socket.inet_ntop`` writes it) and a port."""


@dataclass(frozen=True)
class TcpSocket:
    """One line of ``/proc/net/tcp`` or ``tcp6``."""

    local: Address
    remote: Address
    state: int
    inode: int
    """0 when no file holds the socket (a connection not accepted yet, or closed here)."""


def parse_address(text: str) -> Address:
    """``0100007F:1F40`` (each 32-bit word in the kernel's byte order) → ``("127.0.0.1", 8000)``."""
    host, _, port = text.partition(":")
    raw = bytes.fromhex(host)
    if sys.byteorder == "little":
        raw = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
    family = socket.AF_INET if len(raw) == 4 else socket.AF_INET6
    return socket.inet_ntop(family, raw), int(port, 16)


def parse_tcp_table(text: str) -> list[TcpSocket]:
    """The sockets of a ``/proc/net/tcp`` (or ``tcp6``) table; malformed lines are skipped."""
    sockets = []
    for line in text.splitlines()[1:]:
        fields = line.split()
        try:
            sockets.append(
                TcpSocket(
                    parse_address(fields[1]),
                    parse_address(fields[2]),
                    int(fields[3], 16),
                    int(fields[9]),
                )
            )
        except (IndexError, ValueError, OSError):
            continue
    return sockets


def tcp_sockets(
    pid: int | None = None, *, mentioning: Iterable[str] = ()
) -> list[TcpSocket] | None:
    """The TCP sockets (IPv4 and IPv6) of ``pid``'s network namespace (this process's when
    None), or None when ``/proc`` does not say.

    With ``mentioning``, only the lines holding one of those strings are parsed (a busy
    machine lists thousands of sockets; finding a few lines is much cheaper than parsing all).
    """
    folder = PROC / (str(pid) if pid is not None else "self") / "net"
    needles = list(mentioning)
    found: list[TcpSocket] | None = None
    for name in ("tcp", "tcp6"):
        try:
            text = (folder / name).read_text()
        except OSError:
            continue
        if needles:
            text = "\n".join(["", *_lines_with(text, needles)])
        found = (found or []) + parse_tcp_table(text)
    return found


def _lines_with(text: str, needles: list[str]) -> list[str]:
    lines = []
    for needle in needles:
        start = text.find(needle)
        while start != -1:
            begin = text.rfind("\n", 0, start) + 1
            end = text.find("\n", start)
            end = len(text) if end == -1 else end
            lines.append(text[begin:end])
            start = text.find(needle, end)
    return lines


def process_tree(pid: int) -> list[int]:
    """``pid`` and every live process it started, and they started (from ``children`` files)."""
    tree = [pid]
    index = 0
    while index < len(tree):
        current = tree[index]
        index += 1
        try:
            tasks = os.listdir(PROC / str(current) / "task")
        except OSError:
            continue
        for task in tasks:
            try:
                children = (PROC / str(current) / "task" / task / "children").read_text()
            except OSError:
                continue
            tree.extend(int(child) for child in children.split() if int(child) not in tree)
    return tree


def socket_inodes(pids: Iterable[int], *, tcp_only: bool = False) -> set[int]:
    """The inodes of the sockets the processes hold open (those ``/proc`` lets us see).

    With ``tcp_only``, only TCP sockets (by the descriptor's ``system.sockprotoname``
    attribute; a socket whose protocol cannot be read counts as TCP).
    """
    inodes: set[int] = set()
    for pid in pids:
        folder = PROC / str(pid) / "fd"
        try:
            descriptors = os.listdir(folder)
        except OSError:
            continue
        for fd in descriptors:
            try:
                target = os.readlink(folder / fd)
            except OSError:
                continue
            if not (target.startswith("socket:[") and target.endswith("]")):
                continue
            if tcp_only and not _is_tcp(folder / fd):
                continue
            inodes.add(int(target[8:-1]))
    return inodes


def _is_tcp(link: Path) -> bool:
    try:
        return os.getxattr(link, "system.sockprotoname").startswith(b"TCP")
    except OSError:
        return True  # unknown: let the TCP table decide


def listening(pid: int) -> list[Address] | None:
    """The TCP addresses ``pid`` or a process it started listens on ([] if none), or None
    when ``/proc`` does not say."""
    held = socket_inodes(process_tree(pid), tcp_only=True)
    if not held:  # no TCP socket: the machine's TCP table need not be read
        return [] if (PROC / str(pid)).is_dir() else None
    table = tcp_sockets(pid, mentioning=[f" {inode} " for inode in held])
    if table is None:
        return None
    return [entry.local for entry in table if entry.state == TCP_LISTEN and entry.inode in held]


def accept_queue(listener: socket.socket) -> int | None:
    """How many connections wait in ``listener``'s accept queue (``TCP_INFO``'s ``unacked``
    of a listening socket), or None where the system does not say."""
    try:
        info = listener.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, TCP_INFO_SIZE)
    except (OSError, AttributeError):
        return None
    return int(struct.unpack_from("=I", info, TCP_INFO_UNACKED)[0]) if len(info) >= 28 else None


def accepted(server: Address, client: Address) -> bool | None:
    """Whether the connection from ``client`` to the listener at ``server`` left the accept
    queue (a process accepted it), or None when ``/proc`` does not say.

    Still queued: its server end is listed, connected (or closed by the client only), and
    no file holds it (inode 0). Once accepted it has an inode, or is closed, or is gone.
    """
    table = tcp_sockets(mentioning=[f":{client[1]:04X} "])
    if table is None:
        return None
    for entry in table:
        if entry.local == server and entry.remote == client:
            queued = entry.state in (TCP_ESTABLISHED, TCP_CLOSE_WAIT) and entry.inode == 0
            return not queued
    return True
