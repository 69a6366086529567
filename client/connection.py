"""The thin client: one DEALER socket to the project's daemon, used from one thread.

It keeps its whole registration, so that it can register again by itself when
the daemon restarts or forgets it (a ``pong`` says so), and it falls back to
polling its own files, loudly, while no daemon can be reached.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType

import zmq

from reloadd.client import log
from reloadd.client.channel import Channel
from reloadd.client.polling import POLL_INTERVAL, PollingWatcher
from reloadd.client.registration import (
    GlobLike,
    absolute,
    as_names,
    batches,
    glob_key,
    glob_specs,
)
from reloadd.client.spawn import log_tail, spawn_daemon
from reloadd.protocol import (
    PROTOCOL_VERSION,
    Changed,
    DaemonError,
    DaemonNotRunning,
    DaemonStartFailed,
    DaemonTimeout,
    Error,
    ErrorCode,
    GlobSpec,
    Hello,
    Message,
    Noted,
    Ping,
    Pong,
    ReloaddError,
    Request,
    RequestRejected,
    Role,
    Saved,
    Status,
    StatusReply,
    Stop,
    Stopping,
    Unwatch,
    Watch,
    Watching,
    Welcome,
)
from reloadd.protocol.digest import registration_digest
from reloadd.protocol.endpoint import Endpoint, endpoint_for, find_project_root

HANDSHAKE_TIMEOUT = 1.0
"""Seconds to wait for an existing daemon's ``welcome`` before treating its socket as stale."""

SPAWN_TIMEOUT = 15.0
"""Seconds a freshly started daemon may take to answer."""

REQUEST_TIMEOUT = 60.0
"""Seconds to wait for any other reply (a first ``watch`` of a big tree may crawl it)."""

MISSED_PINGS = 3
"""A daemon that answers nothing for this many heartbeats is taken for gone."""

RETRY_INTERVAL = 5.0
"""Seconds between attempts to reach the daemon again while falling back to polling."""


def default_name() -> str:
    """A stable name for this process: its command line, shortened, and its working folder.

    A dev server restarted with the same command in the same folder gets the same
    name, which is how the daemon recognises it.
    """
    argv = [Path(sys.argv[0]).name if sys.argv and sys.argv[0] else "python", *sys.argv[1:]]
    return f"{' '.join(argv)[:150]} in {os.getcwd()}"[:250]


class Client:
    """A connection to the daemon of one project; starts one in the background if needed.

    >>> with Client("/path/to/project") as client:          # doctest: +SKIP
    ...     client.watch(files=["app.py"], globs=[("templates", "**/*.html")])
    ...     changed = client.wait(timeout=30)

    With ``spawn=False`` a missing daemon raises :class:`DaemonNotRunning`.
    Otherwise, if no daemon can be started or reached (now or later), the client
    says so once on stderr and falls back to polling its own files until the
    daemon is back (``fallback=False`` raises instead). A client is not
    thread-safe: use it from one thread.
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
        self.endpoint: Endpoint = endpoint_for(self.root)
        self.name = name or default_name()
        self.role = role
        self.spawn = spawn
        self.fallback = fallback and spawn
        self.handshake_timeout = handshake_timeout
        self.spawn_timeout = spawn_timeout
        self.request_timeout = request_timeout
        self.welcome: Welcome | None = None
        self.polling: PollingWatcher | None = None
        """The in-process watcher while the daemon cannot be reached, else None."""
        self._files: set[str] = set()
        self._globs: set[GlobSpec] = set()
        self._pending: list[str] = []
        self._more = False
        """The last ``changed`` said another part of its burst follows."""
        self._last_heard = time.time()
        self._next_retry = 0.0
        self._context: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
        self._channel: Channel | None = None
        try:
            self._connect()
        except DaemonError as exc:
            if not self.fallback:
                self._disconnect()
                self._context.term()
                raise
            self._start_polling(exc, since=time.time())

    # -- public API -----------------------------------------------------------------------------

    @property
    def backend(self) -> str:
        """The daemon's watch backend (``watchman`` or ``builtin``), or ``polling`` in fallback."""
        return self.welcome.backend if self.welcome is not None else "polling"

    @property
    def daemon(self) -> Welcome:
        """The ``welcome`` of the daemon this client talks to; raises while polling instead."""
        if self.welcome is None:
            raise DaemonNotRunning(f"not connected to the reloadd daemon for {self.root}")
        return self.welcome

    @property
    def connected(self) -> bool:
        """Whether the daemon (not the in-process fallback) is watching for this client."""
        return self.welcome is not None

    def watch(
        self,
        files: Iterable[str | os.PathLike[str]] = (),
        globs: Iterable[GlobLike] = (),
        *,
        since: float = 0.0,
    ) -> Watching:
        """Add files and ``(directory, pattern)`` globs; return once the daemon watches them.

        Any change made after this returns is reported by :meth:`wait`. With
        ``since`` (a Unix time, e.g. :func:`~reloadd.client.process_start_time`),
        changes to these files made after it are reported too: a dev server passes
        its process's start time so that edits made while it imported are not lost.
        """
        names, new_globs = as_names(files), glob_specs(globs)
        first = not self._files and not self._globs
        taken_back = first and self.polling is None and self._took_back(names, new_globs)
        # The registration the daemon took back holds only normal absolute paths, so
        # names with its digest need no normalising (20,000 of them take 10 ms).
        new_files = names if taken_back else absolute(names)
        self._files.update(new_files)
        self._globs.update(new_globs)
        if self.polling is not None:
            self.polling.files.update(new_files)
            self.polling.globs.update(new_globs)
            return Watching(re=0, files=len(self._files), globs=len(self._globs))
        try:
            if taken_back:
                channel = self._require_channel()
                return channel.request(
                    Watch(id=channel.next_id(), since=since, unchanged=True),
                    Watching,
                    timeout=self.request_timeout,
                )
            return self._send_watch(Watch, new_files, new_globs, since)
        except (DaemonNotRunning, DaemonTimeout) as exc:
            self._recover(exc)
            return Watching(re=0, files=len(self._files), globs=len(self._globs))

    def unwatch(
        self,
        files: Iterable[str | os.PathLike[str]] = (),
        globs: Iterable[GlobLike] = (),
    ) -> Watching:
        """Remove files and globs from this client's registration."""
        old_files, old_globs = absolute(as_names(files)), glob_specs(globs)
        self._files.difference_update(old_files)
        self._globs.difference_update(old_globs)
        if self.polling is not None:
            self.polling.files.difference_update(old_files)
            self.polling.globs.difference_update(old_globs)
            return Watching(re=0, files=len(self._files), globs=len(self._globs))
        return self._send_watch(Unwatch, old_files, old_globs, 0.0)

    def wait(self, timeout: float | None = None) -> list[Path]:
        """Wait up to ``timeout`` seconds (forever if None) for changes; return the changed paths.

        Returns an empty list on timeout. Changes that arrived while another
        request was in flight are returned first. Meanwhile the client sends
        heartbeats, and registers again or falls back to polling as needed.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self._pending or self._more:  # the parts of one burst are returned together
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                break
            if self.polling is not None:
                self._poll_once(remaining)
            else:
                self._wait_on_daemon(remaining)
        if self._pending and self.polling is None and self._channel is not None:
            self._drain_now()
        changed = list(dict.fromkeys(self._pending))
        self._pending.clear()
        return [Path(path) for path in changed]

    def saved(self, paths: Iterable[str | os.PathLike[str]]) -> Noted:
        """Report files just written (saved, created or deleted); the reply says who was told.

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
        names = absolute(as_names(paths))
        if self.polling is not None or not names:
            return Noted(re=0, notified=0, recorded=0)
        try:
            return self._send_saved(names)
        except (DaemonNotRunning, DaemonTimeout) as exc:
            self._recover(exc)  # raises when it cannot reconnect and may not fall back
            if self.polling is not None:
                return Noted(re=0, notified=0, recorded=0)
            return self._send_saved(names)

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
        self._disconnect(goodbye=True)
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

    # -- connecting -----------------------------------------------------------------------------

    def _connect(self) -> Welcome:
        """Say hello to the running daemon, or start one; raise :class:`DaemonError` if neither works."""
        if self.endpoint.socket_path.exists():
            welcome = self._try_handshake(self.handshake_timeout)
            if welcome is not None:
                return welcome
        if not self.spawn:
            raise DaemonNotRunning(
                f"no reloadd daemon answers for {self.root}; start one with "
                f"'reloadd start --root {self.root}'"
            )
        try:
            process = spawn_daemon(self.endpoint)
        except (OSError, ReloaddError) as exc:
            raise DaemonStartFailed(
                f"cannot start a reloadd daemon for {self.root}: {exc}"
            ) from exc
        log.info("started a reloadd daemon for %s (pid %d)", self.root, process.pid)
        deadline = time.monotonic() + self.spawn_timeout
        exited_at: float | None = None
        while time.monotonic() < deadline:
            if self.endpoint.socket_path.exists():
                welcome = self._try_handshake(min(0.5, max(0.05, deadline - time.monotonic())))
                if welcome is not None:
                    return welcome
            code = process.poll()
            if code not in (None, 0):
                break
            if code == 0:
                # It found another daemon holding the project's lock; give that one a moment.
                exited_at = exited_at or time.monotonic()
                if time.monotonic() - exited_at > 2 * self.handshake_timeout:
                    raise DaemonStartFailed(
                        f"a reloadd daemon holds the lock of {self.root} but does not answer; "
                        f"see its log {self.endpoint.log_path}"
                    )
            time.sleep(0.01)
        raise DaemonStartFailed(
            f"the reloadd daemon for {self.root} did not start; its log "
            f"{self.endpoint.log_path} ends with:\n{log_tail(self.endpoint.log_path)}"
        )

    def _try_handshake(self, timeout: float) -> Welcome | None:
        """Say hello on a fresh channel; None if nothing answers in time."""
        self._disconnect()
        channel = self._channel = Channel(self._context, self.endpoint, self._take_changed)
        hello = Hello(
            id=channel.next_id(),
            protocol=PROTOCOL_VERSION,
            name=self.name,
            pid=os.getpid(),
            role=self.role,
        )
        try:
            self.welcome = channel.request(hello, Welcome, timeout=timeout)
        except DaemonTimeout:
            return None
        return self.welcome

    def _disconnect(self, *, goodbye: bool = False) -> None:
        self._more = False  # the rest of a burst cut short comes back through ``since``
        if self._channel is not None:
            self._last_heard = max(self._last_heard, self._channel.last_heard)
            self._channel.close(goodbye=goodbye)
            self._channel = None

    def _recover(self, reason: Exception) -> None:
        """The daemon is gone or forgot us: connect again and re-register, else poll."""
        self._disconnect()
        since = self._last_heard
        self.welcome = None
        try:
            self._connect()
            self._reregister(since)
        except DaemonError as exc:
            if not self.fallback:
                raise
            self._start_polling(exc, since=since)
            return
        log.info("registered again with the reloadd daemon for %s (%s)", self.root, reason)

    def _reregister(self, since: float) -> None:
        if self._took_back(list(self._files), list(self._globs)):
            channel = self._require_channel()
            channel.request(
                Watch(id=channel.next_id(), since=since - 0.1, unchanged=True),
                Watching,
                timeout=self.request_timeout,
            )
        elif self._files or self._globs:
            # A small margin: the daemon's clock and ours are the same, but "heard at" is not "sent at".
            self._send_watch(
                Watch, sorted(self._files), sorted(self._globs, key=glob_key), since - 0.1
            )

    def _start_polling(self, reason: Exception, *, since: float) -> None:
        self._disconnect()
        self.welcome = None
        self.polling = PollingWatcher(self._files, self._globs, since)
        self._next_retry = time.monotonic() + RETRY_INTERVAL
        print(
            f"reloadd: cannot reach the daemon for {self.root} ({reason}). Watching "
            f"{len(self._files)} files and {len(self._globs)} globs in this process, by polling "
            f"every {POLL_INTERVAL:g} s, until it is back.",
            file=sys.stderr,
            flush=True,
        )

    def _poll_once(self, remaining: float | None) -> None:
        assert self.polling is not None
        time.sleep(POLL_INTERVAL if remaining is None else max(0.0, min(POLL_INTERVAL, remaining)))
        self._pending.extend(self.polling.poll())
        if time.monotonic() >= self._next_retry:
            self._next_retry = time.monotonic() + RETRY_INTERVAL
            self._leave_polling()

    def _leave_polling(self) -> None:
        assert self.polling is not None
        polled_at = time.time()
        try:
            self._connect()
            self._pending.extend(self.polling.poll())
            self._reregister(polled_at)
        except DaemonError:
            self.welcome = None
            self._disconnect()
            return
        self.polling = None
        print(
            f"reloadd: the daemon for {self.root} is back; stopped polling.",
            file=sys.stderr,
            flush=True,
        )

    # -- the daemon conversation ----------------------------------------------------------------

    def _wait_on_daemon(self, remaining: float | None) -> None:
        channel = self._require_channel()
        heartbeat = self.welcome.heartbeat if self.welcome else 2.0
        try:
            if time.monotonic() - channel.last_sent >= heartbeat:
                channel.send(Ping(id=channel.next_id()))
            silent_for = time.time() - channel.last_heard
            if silent_for > MISSED_PINGS * heartbeat:
                raise DaemonTimeout(f"no answer for {silent_for:.1f} s")
            slice_ = heartbeat - (time.monotonic() - channel.last_sent)
            if remaining is not None:
                slice_ = min(slice_, remaining)
            message = channel.receive(max(0.0, slice_))
        except (DaemonNotRunning, DaemonTimeout) as exc:
            self._recover(exc)
            return
        if message is not None:
            self._take(message)

    def _take_changed(self, message: Changed) -> None:
        self._pending.extend(message.paths)
        self._more = message.more

    def _drain_now(self) -> None:
        channel = self._require_channel()
        while (message := channel.receive(0)) is not None:
            self._take(message)

    def _take(self, message: Message) -> Message | None:
        """Handle what any message means for the connection; return it if it may be a reply."""
        if isinstance(message, Changed):
            self._take_changed(message)
            return None
        if isinstance(message, Pong):
            if self.welcome is not None and (
                message.instance != self.welcome.instance or not message.registered
            ):
                self._recover(DaemonNotRunning("the daemon restarted or forgot this client"))
            return None
        if (
            isinstance(message, Error)
            and message.code == ErrorCode.NOT_REGISTERED
            and message.re is None
        ):
            return None
        return message

    def _send_watch(
        self,
        kind: type[Watch] | type[Unwatch],
        files: list[str],
        globs: list[GlobSpec],
        since: float,
    ) -> Watching:
        channel = self._require_channel()
        reply: Watching | None = None
        for file_batch, glob_batch in batches(files, globs) or [((), ())]:
            if kind is Watch:
                message: Request = Watch(
                    id=channel.next_id(), files=file_batch, globs=glob_batch, since=since
                )
            else:
                message = Unwatch(id=channel.next_id(), files=file_batch, globs=glob_batch)
            reply = channel.request(message, Watching, timeout=self.request_timeout)
        assert reply is not None
        return reply

    def _send_saved(self, paths: list[str]) -> Noted:
        channel = self._require_channel()
        total = Noted(re=0, notified=0, recorded=0)
        for batch, _ in batches(paths, []):
            try:
                reply = channel.request(
                    Saved(id=channel.next_id(), paths=batch), Noted, timeout=self.request_timeout
                )
            except RequestRejected as exc:
                if exc.code != ErrorCode.UNKNOWN_TYPE:
                    raise
                raise RequestRejected(
                    f"the reloadd daemon running for {self.root} is older than this client and "
                    f"takes no save reports; run 'reloadd stop --root {self.root}' so that a "
                    "current one starts",
                    code=exc.code,
                ) from exc
            total = Noted(
                re=reply.re,
                notified=total.notified + reply.notified,
                recorded=total.recorded + reply.recorded,
            )
        return total

    def _took_back(self, files: list[str], globs: list[GlobSpec]) -> bool:
        """Whether the daemon gave back a registration equal to these files and globs."""
        taken_back = self.welcome.registration if self.welcome is not None else ""
        return bool(taken_back) and registration_digest(files, globs) == taken_back

    def _require_channel(self) -> Channel:
        if self._channel is None:
            raise DaemonNotRunning(f"not connected to the reloadd daemon for {self.root}")
        return self._channel
