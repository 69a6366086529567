"""The thin client: a project's daemon watches this process's files, used from one thread.

It keeps its whole registration, so that it can register again by itself when the
daemon restarts or forgets it (a ``pong`` says so), and it falls back to polling its
own files, loudly, while no daemon can be reached. Its connection is a state machine
(:mod:`reloadd.client.states`): every change of state goes through
``self._machine.enter``.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType

import zmq

from reloadd.client.channel import Channel
from reloadd.client.connect import Dialer, default_name, locate
from reloadd.client.lifecycle import Lifecycle
from reloadd.client.polling import PollingWatcher
from reloadd.client.registration import GlobLike, absolute, as_names, glob_specs
from reloadd.client.requests import send_saved, send_watch, sendable, took_back
from reloadd.client.results import DaemonInfo, SaveResult, WatchResult
from reloadd.client.states import State, StateMachine
from reloadd.protocol import (
    DaemonNotRunning,
    DaemonTimeout,
    GlobSpec,
    ReloaddError,
    Role,
    Status,
    StatusReply,
    Stop,
    Stopping,
    Unwatch,
    Watch,
    Watching,
    Welcome,
)
from reloadd.protocol.endpoint import (
    Endpoint,
    RemoteEndpoint,
    find_project_root,
)

__all__ = ["Client", "default_name"]

HANDSHAKE_TIMEOUT = 1.0
"""Seconds to wait for an existing daemon's ``welcome`` before treating its socket as stale."""

SPAWN_TIMEOUT = 15.0
"""Seconds a freshly started daemon may take to answer."""

REQUEST_TIMEOUT = 60.0
"""Seconds to wait for any other reply (a first ``watch`` of a big tree may crawl it)."""


class Client(Lifecycle):
    """A connection to the daemon of one project; starts one in the background if needed.

    >>> with Client("/path/to/project") as client:          # doctest: +SKIP
    ...     client.watch(files=["app.py"], globs=[("templates", "**/*.html")])
    ...     changed = client.wait(timeout=30)

    With ``RELOADD_ENDPOINT=tcp://HOST:PORT`` in the environment, the daemon is another
    machine's, reached with CurveZMQ keys, and paths are mapped (:mod:`reloadd.client.remote`);
    such a daemon is never started from here.

    With ``spawn=False`` a missing daemon raises :class:`DaemonNotRunning`.
    Otherwise, if no daemon can be started or reached (now or later), the client
    says so once on stderr and falls back to polling its own files until the
    daemon is back (``fallback=False`` raises instead). A client is not
    thread-safe: use it from one thread (its own heartbeat thread shares nothing
    with yours but the socket, under a lock: see :mod:`reloadd.client.heartbeat`).
    """

    def __init__(
        self,
        root: str | os.PathLike[str] | None = None,
        *,
        name: str | None = None,
        role: Role = Role.SERVER,
        spawn: bool = True,
        fallback: bool = True,
        handshake_timeout: float = HANDSHAKE_TIMEOUT,
        spawn_timeout: float = SPAWN_TIMEOUT,
        request_timeout: float = REQUEST_TIMEOUT,
    ) -> None:
        self.root = find_project_root(root)
        self.endpoint: Endpoint | RemoteEndpoint
        self.endpoint, self._remote, unusable = locate(self.root, may_fail=fallback and spawn)
        self.name = name or default_name()
        self.spawn = spawn and not isinstance(self.endpoint, RemoteEndpoint)
        self.fallback = fallback and spawn
        self.request_timeout = request_timeout
        self._machine = StateMachine(str(self.root))
        self._welcome: Welcome | None = None
        self._channel: Channel | None = None
        self._polling: PollingWatcher | None = None
        self._files: set[str] = set()
        self._globs: set[GlobSpec] = set()
        self._pending: list[str] = []
        self._more = False
        """The last ``changed`` message said another part follows."""
        self._restart_asked = False
        self._init_subscription()
        self._init_lifecycle()
        self._last_heard = time.time()
        self._next_retry = 0.0
        try:
            self._context: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
        except zmq.ZMQError as exc:
            raise DaemonNotRunning(
                f"cannot set up ZeroMQ ({exc}); raise the open-files limit ('ulimit -n')"
            ) from exc
        self._dialer = Dialer(
            self._context,
            self.endpoint,
            self._take,
            name=self.name,
            role=role,
            handshake_timeout=handshake_timeout,
            spawn_timeout=spawn_timeout,
            remote=self._remote,
        )
        try:
            if unusable is not None:
                raise unusable
            self._attach(*self._dialer.connect(spawn=self.spawn))
        except ReloaddError as exc:
            if not self.fallback:
                self.close()
                raise
            self._fall_back(exc, since=time.time())
        else:
            self._machine.enter(State.REGISTERED, "welcomed")
            self._start_heartbeat()

    # -- public API -----------------------------------------------------------------------------

    @property
    def state(self) -> State:
        """Where the connection stands: registered with a daemon, polling, closed... (see :class:`State`)."""
        return self._machine.state

    @property
    def backend(self) -> str:
        """The daemon's watch backend (``watchman`` or ``builtin``), or ``polling`` in fallback."""
        return self._welcome.backend if self._welcome is not None else "polling"

    @property
    def daemon(self) -> DaemonInfo:
        """The daemon this client talks to (or last talked to, once closed); raises while polling."""
        welcome = self._welcome
        if welcome is None:
            raise DaemonNotRunning(f"not connected to the reloadd daemon for {self.root}")
        return DaemonInfo(
            pid=welcome.pid,
            instance=welcome.instance,
            backend=welcome.backend,
            protocol=welcome.protocol,
            heartbeat=welcome.heartbeat,
            registration=welcome.registration,
        )

    @property
    def connected(self) -> bool:
        """Whether the daemon (not the in-process fallback) is watching for this client."""
        return self.state is State.REGISTERED

    def watch(
        self,
        files: Iterable[str | os.PathLike[str]] = (),
        globs: Iterable[GlobLike] = (),
        *,
        since: float = 0.0,
    ) -> WatchResult:
        """Add files and ``(directory, pattern)`` globs; return once the daemon watches them.

        Any change made after this returns is reported by :meth:`wait`. With
        ``since`` (a Unix time, e.g. :func:`~reloadd.client.process_start_time`),
        changes to these files made after it are reported too: a dev server passes
        its process's start time so that edits made while it imported are not lost.
        """
        self._retry_if_lost()
        names, new_globs = as_names(files), glob_specs(globs)
        if self._remote is not None:  # the daemon's paths; the others are polled here
            names, new_globs = self._remote.outgoing(absolute(names), new_globs, since)
        first = not self._files and not self._globs
        taken_back = first and self.connected and took_back(self._welcome, names, new_globs)
        # The registration the daemon took back holds only normal absolute paths, so
        # names with its digest need no normalising (20,000 of them take 10 ms).
        new_files = names if taken_back else absolute(names)
        if not taken_back:
            new_files, new_globs = self._sendable(new_files, new_globs)
        self._files.update(new_files)
        self._globs.update(new_globs)
        if self._polling is not None:
            self._polling.add(new_files, new_globs, since)
            return self._counts()
        channel = self._require_channel()
        try:
            if taken_back:
                message = Watch(id=channel.next_id(), since=since, unchanged=True)
                reply = channel.request(message, Watching, timeout=self.request_timeout)
                return WatchResult(files=reply.files, globs=reply.globs)
            return send_watch(channel, Watch, new_files, new_globs, since, self.request_timeout)
        except (DaemonNotRunning, DaemonTimeout) as exc:
            self._reconnect(exc)
            return self._counts()

    def unwatch(
        self,
        files: Iterable[str | os.PathLike[str]] = (),
        globs: Iterable[GlobLike] = (),
    ) -> WatchResult:
        """Remove files and globs from this client's registration."""
        self._retry_if_lost()
        old_files, old_globs = absolute(as_names(files)), glob_specs(globs)
        if self._remote is not None:
            old_files, old_globs = self._remote.removed(old_files, old_globs)
        self._files.difference_update(old_files)
        self._globs.difference_update(old_globs)
        if self._polling is not None:
            self._polling.files.difference_update(old_files)
            self._polling.globs.difference_update(old_globs)
            return self._counts()
        channel = self._require_channel()
        return send_watch(channel, Unwatch, old_files, old_globs, 0.0, self.request_timeout)

    def wait(self, timeout: float | None = None) -> list[Path]:
        """Wait up to ``timeout`` seconds (forever if None) for changes; return the changed paths.

        Returns an empty list on timeout. Changes that arrived while another
        request was in flight are returned first; a notification the daemon sent in
        several parts is returned whole (unless ``timeout`` ends first). It also returns,
        with whatever changed so far (perhaps nothing), when someone asked for a restart
        (``reloadd reload``): then :attr:`restart_requested` is True until the next call.
        Meanwhile the client sends heartbeats, and registers again or falls back to
        polling as needed.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        parts_until: float | None = None
        self._restart_requested = False
        while (not self._pending or self._more) and not self._restart_asked:
            if self._pending and parts_until is None:  # the first part came: bound the rest
                parts_until = time.monotonic() + self.request_timeout
                deadline = parts_until if deadline is None else min(deadline, parts_until)
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                break
            if self._remote is not None:  # its own files, which no path mapping holds
                self._pending.extend(self._remote.poll_local())
                if self._pending and not self._more:
                    break
                remaining = self._remote.until_next_poll(remaining)
            if self.state is State.POLLING:
                self._poll_once(remaining)
            elif self.state is State.LOST:
                self._retry_if_lost()
            else:
                self._wait_on_daemon(remaining)
        if self._pending and self._channel is not None and self.connected:
            self._drain_now()
        changed = list(dict.fromkeys(self._pending))
        self._pending.clear()
        self._more = False
        self._restart_requested, self._restart_asked = self._restart_asked, False
        return [Path(path) for path in changed]

    def saved(self, paths: Iterable[str | os.PathLike[str]]) -> SaveResult:
        """Report files just written (saved, created or deleted); the result says who was told.

        The daemon tells the clients that registered them (or a glob matching them)
        at once, instead of when its watcher reports the write, and does not tell them
        again when the watcher does; ``notified`` is how many clients it told. Files
        that no client registered, or that the daemon already knows in their present
        state (its watcher was first: then ``recorded`` is 0), tell no one.

        Relative paths are taken from the working folder. More paths than one message
        holds go in several messages, and the counts are summed. While no daemon can
        be reached and this client polls in-process, there is nobody to tell: both
        counts are 0.

        Raises :class:`RequestRejected` if the daemon refuses the report.
        """
        self._retry_if_lost()
        names, _ = self._sendable(absolute(as_names(paths)), [])
        if self._remote is not None:
            names = self._remote.host_paths(names)
        if self._polling is not None or not names:
            return SaveResult(notified=0, recorded=0)
        try:
            return send_saved(self._require_channel(), names, self.root, self.request_timeout)
        except (DaemonNotRunning, DaemonTimeout) as exc:
            self._reconnect(exc)  # raises if it may not fall back
            if self._polling is not None:
                return SaveResult(notified=0, recorded=0)
            return send_saved(self._require_channel(), names, self.root, self.request_timeout)

    def status(self) -> StatusReply:
        """The daemon's description of itself and its clients."""
        channel = self._require_channel()
        return channel.request(
            Status(id=channel.next_id()), StatusReply, timeout=self.request_timeout
        )

    def stop_daemon(self) -> None:
        """Ask the daemon to shut down (it answers, then exits)."""
        channel = self._require_channel()
        channel.request(Stop(id=channel.next_id()), Stopping, timeout=self.request_timeout)

    def close(self) -> None:
        """Say goodbye to the daemon and close the connection (idempotent)."""
        last = self._welcome  # still what ``daemon`` says after closing
        self._detach(goodbye=True)
        self._welcome = last
        self._polling = None
        self._machine.enter(State.CLOSED, "closed")
        if not self._context.closed:
            self._context.term()

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _sendable(
        self, names: list[str], globs: list[GlobSpec]
    ) -> tuple[list[str], list[GlobSpec]]:
        """Leave out (saying so on stderr) the paths the protocol cannot carry."""
        names, globs, bad = sendable(names, globs)
        if bad:
            print(
                f"reloadd: cannot watch {len(bad)} path(s) whose name is not valid UTF-8 "
                f"(e.g. {os.fsencode(bad[0]).decode(errors='backslashreplace')}); rename them",
                file=sys.stderr,
                flush=True,
            )
        return names, globs

    def _counts(self) -> WatchResult:
        return WatchResult(files=len(self._files), globs=len(self._globs))
