"""Reaching a project's daemon: check the endpoint, say ``hello``, or start a daemon and wait.

Returns an open :class:`~reloadd.client.channel.Channel` and the daemon's ``welcome``,
or raises a :class:`~reloadd.protocol.ReloaddError`; it keeps no state of its own.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

import zmq

from reloadd.client import log
from reloadd.client.channel import Channel
from reloadd.client.remote import ENDPOINT_VAR, Remote, remote_from_environment
from reloadd.client.spawn import log_tail, spawn_daemon
from reloadd.protocol import (
    PROTOCOL_VERSION,
    DaemonNotRunning,
    DaemonStartFailed,
    DaemonTimeout,
    EndpointError,
    Hello,
    Message,
    ReloaddError,
    Role,
    VersionMismatch,
    Welcome,
)
from reloadd.protocol.defaults import NETWORK_TIMEOUT
from reloadd.protocol.endpoint import (
    Endpoint,
    RemoteEndpoint,
    check_endpoint,
    endpoint_for,
    endpoint_in,
    runtime_dir,
    where_to_look,
)

Connected = tuple[Channel, Welcome]
"""An open channel and the ``welcome`` its daemon sent."""


def locate(
    root: Path, *, may_fail: bool
) -> tuple[Endpoint | RemoteEndpoint, Remote | None, EndpointError | None]:
    """Where the daemon of ``root`` is: the local endpoint, or the network one the environment
    names (with its keys and path map); and, if ``may_fail``, the error that makes it unusable
    (the client then polls, saying why) instead of raising it.
    """
    try:
        remote = remote_from_environment(root)
        return (remote.endpoint if remote else endpoint_for(root)), remote, None
    except EndpointError as exc:
        if not may_fail:
            raise
        address = os.environ.get(ENDPOINT_VAR, "")
        if address:
            return RemoteEndpoint(root=root, address=address), None, exc
        return endpoint_in(runtime_dir(), root), None, exc


def default_name() -> str:
    """A stable name for this process: its command line, shortened, and its working folder.

    A dev server restarted with the same command in the same folder gets the same
    name, which is how the daemon recognises it. Bytes that are not UTF-8 (in a
    folder's name, say) are replaced, so that the name can always be sent.
    """
    argv = [Path(sys.argv[0]).name if sys.argv and sys.argv[0] else "python", *sys.argv[1:]]
    try:
        cwd = os.getcwd()
    except OSError:
        cwd = "(a removed folder)"
    name = f"{' '.join(argv)[:150]} in {cwd}"[:250]
    return name.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


class Dialer:
    """How one client reaches its daemon: who it is, and how long it waits for what."""

    def __init__(
        self,
        context: zmq.Context[zmq.Socket[bytes]],
        endpoint: Endpoint | RemoteEndpoint,
        on_unasked: Callable[[Message], None],
        *,
        name: str,
        role: Role,
        handshake_timeout: float,
        spawn_timeout: float,
        remote: Remote | None = None,
    ) -> None:
        self.context = context
        self.endpoint = endpoint
        self.remote = remote
        """Set for a daemon on another machine: it is never started from here."""
        self.on_unasked = on_unasked
        self.name = name
        self.role = role
        self.handshake_timeout = handshake_timeout
        self.spawn_timeout = spawn_timeout

    def connect(self, *, spawn: bool) -> Connected:
        """Say hello to the running daemon, or (with ``spawn``) start one; raise if neither works.

        A network daemon is never started: it runs where the files are.
        """
        if isinstance(self.endpoint, RemoteEndpoint):
            if self.remote is None:  # its variables were wrong: no key to connect with
                raise DaemonNotRunning(
                    f"cannot connect to {self.endpoint.address} without valid keys; fix the "
                    "RELOADD_* variables (see docs/remote.md) and restart this process"
                )
            found = self.handshake(max(self.handshake_timeout, NETWORK_TIMEOUT))
            if found is None:
                raise DaemonNotRunning(
                    f"no reloadd daemon answers at {self.endpoint.address}; "
                    f"{where_to_look(self.endpoint)}"
                )
            return found
        root = self.endpoint.root
        if check_endpoint(self.endpoint):
            found = self.handshake(self.handshake_timeout)
            if found is not None:
                return found
        if not spawn:
            raise DaemonNotRunning(
                f"no reloadd daemon answers for {root}; start one with 'reloadd start --root {root}'"
            )
        try:
            process = spawn_daemon(self.endpoint)
        except (OSError, ReloaddError) as exc:
            raise DaemonStartFailed(f"cannot start a reloadd daemon for {root}: {exc}") from exc
        log.info("started a reloadd daemon for %s (pid %d)", root, process.pid)
        deadline = time.monotonic() + self.spawn_timeout
        exited_at: float | None = None
        while time.monotonic() < deadline:
            if check_endpoint(self.endpoint):
                found = self.handshake(min(0.5, max(0.05, deadline - time.monotonic())))
                if found is not None:
                    return found
            code = process.poll()
            if code not in (None, 0):
                break
            if code == 0:
                # It found another daemon holding the project's lock; give that one a moment.
                exited_at = exited_at or time.monotonic()
                if time.monotonic() - exited_at > 2 * self.handshake_timeout:
                    raise DaemonStartFailed(
                        f"a reloadd daemon holds the lock of {root} but does not answer; "
                        f"see its log {self.endpoint.log_path}"
                    )
            time.sleep(0.01)
        raise DaemonStartFailed(
            f"the reloadd daemon for {root} did not start; see its log {self.endpoint.log_path}, "
            f"which ends with:\n{log_tail(self.endpoint.log_path)}"
        )

    def handshake(self, timeout: float) -> Connected | None:
        """Say hello on a fresh channel; None if nothing answers in time, or the socket is dying.

        A daemon killed a moment ago can still accept a connection and then drop it:
        that is "nobody answers" (start a new daemon), not a failure to report.
        """
        secure = self.remote.secure if self.remote is not None else None
        channel = Channel(self.context, self.endpoint, self.on_unasked, secure)
        hello = Hello(
            id=channel.next_id(),
            protocol=PROTOCOL_VERSION,
            name=self.name,
            pid=os.getpid(),
            role=self.role,
        )
        try:
            welcome = channel.request(hello, Welcome, timeout=timeout)
        except DaemonTimeout:
            channel.close()
            return None
        except DaemonNotRunning:
            channel.close()
            if self.remote is not None:
                raise  # over the network this says why (a refused key): no stale socket here
            return None
        except BaseException:
            channel.close()
            raise
        if welcome.protocol != PROTOCOL_VERSION:
            channel.close()
            raise VersionMismatch(
                f"the reloadd daemon for {self.endpoint.root} speaks protocol {welcome.protocol}, "
                f"this client {PROTOCOL_VERSION}; install the same reloadd version for both and "
                f"restart the daemon ('reloadd stop --root {self.endpoint.root}')"
            )
        return channel, welcome
