"""When a child of ``reloadd run`` serves: the signal each case allows, polled by the supervisor.

* ``--socket``: when the child **accepts** on a kept socket. Right after the
  child starts, the supervisor connects once to each kept socket and closes its end
  at once (an empty connection: servers read end-of-file and drop it); the child is
  ready when that connection has left the accept queue, as ``/proc/net/tcp`` shows
  (:func:`~reloadd.client.run.proc_net.accepted`). Only the child can take it: the
  previous one is gone and the stand-in stopped before it started.
* else, when the child or a process it started **listens** on a TCP port
  (``/proc/<pid>/net/tcp`` and ``tcp6`` for a listening socket whose inode is among
  their descriptors, :func:`~reloadd.client.run.proc_net.listening`);
* else — a command that never listened (a worker, a script), or no ``/proc`` — once it
  has **stayed up** for ``READY_AFTER`` seconds with no new import reported. Once a
  child of this ``reloadd run`` has listened, the following ones are ready only when
  they listen.
"""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass

from reloadd.client.run import proc_net
from reloadd.client.run.proc_net import Address

READY_AFTER = 1.0
"""Seconds a child that is given no ``--socket`` and (as far as this run knows) serves no
TCP port must stay up, with no new import reported, to count as ready."""

POLL_FIRST = 0.005
"""Seconds from a child's start to the first look."""

POLL_MAX = 0.01
"""Longest pause between two looks while the child starts, unless a look costs more than
1 / ``COST_RATIO`` of it."""

COST_RATIO = 10
"""A pause lasts at least this many times the look before it: a look that reads the
machine's TCP table (1 to 3 ms for 600 sockets) keeps the supervisor under a tenth of a core.
Most looks are cheaper: the child's descriptors only while it holds no TCP socket, the
kept socket's accept-queue length while it does not shrink."""

POLL_SLOW = 0.5
"""The pause between looks once a child has not been ready for ``SLOW_AFTER`` seconds."""

SLOW_AFTER = 10.0

PROBE_TIMEOUT = 1.0
"""Seconds the connection to a kept socket may take (it is local: at once, unless its
backlog is full)."""


@dataclass(frozen=True)
class Ready:
    """How a child was seen to serve."""

    how: str
    """For the supervisor's line: ``accepts on 127.0.0.1:8000``, ``listens on …``, ``has stayed up for 1 s``."""
    listened: bool
    """It listens on a TCP port (so later children are expected to)."""


class Readiness:
    """Whether one child serves yet; :meth:`check` at :meth:`next_check`."""

    def __init__(self, pid: int, sockets: list[socket.socket], *, moment: bool) -> None:
        self.pid = pid
        self.started = time.monotonic()
        self.last_import = self.started
        self._probes = [probe for probe in map(_probe, sockets) if probe is not None]
        self._queued = [0] * len(self._probes)
        """The longest accept queue seen on each kept socket since the probe."""
        self._sockets = bool(sockets)
        unseen = not (proc_net.PROC / str(pid) / "net" / "tcp").exists() or (
            sockets and not self._probes
        )
        self._moment = moment or unseen  # no signal to wait for: the moment is all there is
        self._pause = POLL_FIRST
        self._next = self.started + POLL_FIRST

    def imported(self) -> None:
        """The child reported an import: it is still starting (the moment begins again)."""
        self.last_import = time.monotonic()

    def next_check(self) -> float:
        """Seconds until :meth:`check` should look again."""
        due = self._next
        if self._moment:
            due = min(due, self.last_import + READY_AFTER)
        return max(0.0, due - time.monotonic())

    def check(self) -> Ready | None:
        """How the child serves now, or None if it does not yet (call while it runs)."""
        now = time.monotonic()
        if now >= self._next:
            found = self._look()
            if found is not None:
                return found
            cost = time.monotonic() - now
            slow = now - self.started > SLOW_AFTER
            self._pause = POLL_SLOW if slow else min(POLL_MAX, self._pause * 1.5)
            self._next = now + max(self._pause, cost * COST_RATIO)
        if self._moment and now - self.last_import >= READY_AFTER:
            return Ready(f"has stayed up for {READY_AFTER:g} s", listened=False)
        return None

    def _look(self) -> Ready | None:
        if self._sockets:
            for index, (listener, server, client) in enumerate(self._probes):
                # The queue holds the probe until someone takes it: while it does not
                # shrink, nothing was accepted and the TCP table need not be read.
                queued = proc_net.accept_queue(listener)
                if queued is not None and queued >= self._queued[index] > 0:
                    self._queued[index] = queued
                    continue
                self._queued[index] = max(self._queued[index], queued or 0)
                if proc_net.accepted(server, client):
                    return Ready(f"accepts on {_show(server)}", listened=True)
            return None
        ports = proc_net.listening(self.pid)
        if ports:
            return Ready(f"listens on {_show(ports[0])}", listened=True)
        return None


def _probe(listener: socket.socket) -> tuple[socket.socket, Address, Address] | None:
    """Connect once to ``listener`` and close at once: it, and the (server, client) addresses
    of that connection, or None if it could not be made."""
    host, port = listener.getsockname()[:2]
    host = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(host, host)
    probe = socket.socket(listener.family, socket.SOCK_STREAM)
    try:
        probe.settimeout(PROBE_TIMEOUT)
        probe.connect((host, port))
        server, client = probe.getpeername()[:2], probe.getsockname()[:2]
    except OSError:
        return None
    finally:
        probe.close()
    return listener, (server[0], server[1]), (client[0], client[1])


def _show(address: Address) -> str:
    host, port = address
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
