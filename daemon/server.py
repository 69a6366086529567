"""The daemon's socket loop: one ROUTER socket, the client registry, and change routing.

Everything that touches the registry or the socket runs on the main thread.
Backends hand their change batches over through an :class:`Inbox`; signals
wake the loop through ``signal.set_wakeup_fd``.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import FrameType

import zmq

from reloadd.daemon.backends.base import Backend, ChangeBatch
from reloadd.daemon.history import ChangeHistory
from reloadd.daemon.inbox import Inbox
from reloadd.daemon.realpaths import RealPaths
from reloadd.daemon.registry import ClientId, ClientRecord, Registry
from reloadd.daemon.roots import is_covered, roots_to_add
from reloadd.daemon.state_keeper import StateKeeper
from reloadd.daemon.wakeup import drain_pipe
from reloadd.protocol import (
    PROTOCOL_VERSION,
    BackendError,
    Bye,
    Changed,
    ClientInfo,
    Error,
    ErrorCode,
    GlobSpec,
    Hello,
    Message,
    Noted,
    Ping,
    Pong,
    ProtocolError,
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
    decode,
    encode,
    request_id,
)
from reloadd.protocol.endpoint import Endpoint
from reloadd.protocol.limits import MAX_CHANGED_PATHS, MAX_MESSAGE_BYTES

log = logging.getLogger("reloadd.daemon")

HOUSEKEEPING_INTERVAL = 1.0
"""Seconds between checks for silent or dead clients, expired grace periods and state saves."""

HEARTBEAT = 2.0
"""Seconds between a client's pings, as the daemon asks in ``welcome``."""

SILENCE_LIMIT = 4 * HEARTBEAT
"""A client silent for longer is treated as gone (its registration is kept for the grace period)."""

DEFAULT_GRACE = 5.0
"""Seconds a departed client's registration is kept, so a restarting dev server finds it again."""

WATCH_TIMEOUT = 30.0
"""Seconds a backend may take to start watching a new root (a first crawl of a large tree)."""

_MAX_MESSAGES_PER_WAKE = 256


class Daemon:
    """A running daemon for one project root: :meth:`bind`, then :meth:`serve` until stopped."""

    def __init__(
        self,
        endpoint: Endpoint,
        *,
        grace: float = DEFAULT_GRACE,
        state_path: Path | None = None,
        idle_exit: float = 0.0,
    ) -> None:
        self.endpoint = endpoint
        self.grace = grace
        self.state_path = state_path
        self.idle_exit = idle_exit
        """Seconds with no client but tools after which the daemon stops; 0 means never."""
        self.instance = uuid.uuid4().hex
        self.started_at = time.time()
        self.idle_since = self.started_at
        """Since when no client but tools (connected, or kept for its grace period) has been
        registered (Unix time); 0.0 while one is."""
        self.registry = Registry()
        self.history = ChangeHistory()
        self.changes: Inbox[ChangeBatch] = Inbox()
        self._finished: Inbox[Callable[[], None]] = Inbox()
        """Work that the watch thread finished, to complete on the main thread."""
        self._watch_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="reloadd-watch")
        self._roots: frozenset[Path] = frozenset()
        self._roots_dropped = False
        """Whether the backend ever stopped watching a root (its folder was removed)."""
        """The backend's roots, as of the last finished watch (read without its lock)."""
        self._realpath = RealPaths()
        self._stopping = False
        self._backend: Backend | None = None
        self._state: StateKeeper | None = None
        self._context = zmq.Context()
        self._socket = self._context.socket(zmq.ROUTER)

    @property
    def backend(self) -> Backend:
        """The watch backend (set by :meth:`bind`)."""
        assert self._backend is not None, "bind() sets the backend"
        return self._backend

    def bind(self, backend: Backend) -> None:
        """Attach the started backend, resume the previous run's watches, and bind the endpoint."""
        self._backend = backend
        if self.state_path is not None:
            self._state = StateKeeper(
                self.state_path, backend, self.history, watch_timeout=WATCH_TIMEOUT
            )
            self._state.resume()
        self._roots = backend.watched_roots()
        sock = self._socket
        sock.setsockopt(zmq.LINGER, 0)
        sock.setsockopt(zmq.ROUTER_MANDATORY, 1)
        # Oversized frames are dropped by ZeroMQ itself; up to this size we read them and reply.
        sock.setsockopt(zmq.MAXMSGSIZE, 2 * MAX_MESSAGE_BYTES)
        sock.setsockopt(zmq.SNDHWM, 10_000)
        sock.setsockopt(zmq.RCVHWM, 10_000)
        old_umask = os.umask(0o177)
        try:
            sock.bind(self.endpoint.address)
        finally:
            os.umask(old_umask)

    def serve(self) -> None:
        """Run the loop until a ``stop`` request, SIGTERM or SIGINT."""
        wake_read, wake_write = os.pipe()
        os.set_blocking(wake_read, False)
        os.set_blocking(wake_write, False)
        previous_wakeup = signal.set_wakeup_fd(wake_write)
        previous_handlers = {
            sig: signal.signal(sig, self._on_signal) for sig in (signal.SIGTERM, signal.SIGINT)
        }
        poller = zmq.Poller()
        poller.register(self._socket, zmq.POLLIN)
        poller.register(self.changes.fileno(), zmq.POLLIN)
        poller.register(self._finished.fileno(), zmq.POLLIN)
        poller.register(wake_read, zmq.POLLIN)
        next_housekeeping = time.monotonic() + HOUSEKEEPING_INTERVAL
        try:
            while not self._stopping:
                timeout_ms = max(0, int((next_housekeeping - time.monotonic()) * 1000))
                ready = dict(poller.poll(timeout_ms))
                if self.changes.fileno() in ready:
                    self._flush_changes()
                if self._finished.fileno() in ready:
                    for finish in self._finished.drain():
                        finish()
                if self._socket in ready:
                    self._read_requests()
                if wake_read in ready:
                    drain_pipe(wake_read)
                if time.monotonic() >= next_housekeeping:
                    self._housekeeping()
                    next_housekeeping = time.monotonic() + HOUSEKEEPING_INTERVAL
        finally:
            signal.set_wakeup_fd(previous_wakeup)
            for sig, handler in previous_handlers.items():
                signal.signal(sig, handler)
            os.close(wake_read)
            os.close(wake_write)

    def close(self) -> None:
        """Save the state, close the socket and remove its file, then stop the backend."""
        self._watch_thread.shutdown(wait=False, cancel_futures=True)
        if self._backend is not None:
            self._save_state(force=True)
        self._socket.close(linger=0)
        self._context.term()
        self.endpoint.socket_path.unlink(missing_ok=True)
        if self._backend is not None:
            self._backend.close()
        self.changes.close()
        self._finished.close()

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        log.info("received %s, shutting down", signal.Signals(signum).name)
        self._stopping = True

    # -- requests -------------------------------------------------------------------------------

    def _read_requests(self) -> None:
        for _ in range(_MAX_MESSAGES_PER_WAKE):
            try:
                frames = self._socket.recv_multipart(zmq.NOBLOCK, copy=True)
            except zmq.Again:
                return
            identity = frames[0]
            record = self.registry.get(identity)
            if record is not None and record.connected:
                record.last_seen = time.time()
            if len(frames) != 2:
                log.warning(
                    "refused a message of %d frames from %s",
                    len(frames) - 1,
                    self._describe(identity),
                )
                self._send(
                    identity,
                    Error(
                        re=None,
                        code=ErrorCode.BAD_MESSAGE,
                        message="a message must be exactly one frame",
                    ),
                )
                continue
            self._handle(identity, frames[1])

    def _handle(self, identity: ClientId, data: bytes) -> None:
        try:
            message = decode(data)
            replies = self._answer(identity, message)
        except ProtocolError as exc:
            log.warning("refused a message from %s: %s", self._describe(identity), exc)
            replies = [Error(re=request_id(data), code=exc.code, message=str(exc))]
        except BackendError as exc:
            log.error("the %s backend failed: %s", self.backend.name, exc)
            replies = [Error(re=request_id(data), code=ErrorCode.BACKEND_FAILED, message=str(exc))]
        for reply in replies:
            self._send(identity, reply)

    def _answer(self, identity: ClientId, message: Message) -> list[Message]:
        if isinstance(message, Hello):
            return [self._hello(identity, message)]
        if isinstance(message, Ping):
            record = self.registry.get(identity)
            registered = record is not None and record.connected
            return [Pong(re=message.id, instance=self.instance, registered=registered)]
        if isinstance(message, Bye):
            record = self.registry.depart(identity, until=time.time() + self.grace)
            if record is not None:
                log.info(
                    "%s said goodbye; keeping its registration for %g s", _label(record), self.grace
                )
            return []
        if isinstance(message, Status):
            return [self._status(identity, message)]
        if isinstance(message, Stop):
            log.info("stop requested by %s", self._describe(identity))
            self._stopping = True
            return [Stopping(re=message.id)]
        record = self.registry.get(identity)
        if record is None or not record.connected:
            raise ProtocolError(
                f"send hello before {message.TYPE}: this connection is not registered "
                "(the daemon may have restarted)",
                code=ErrorCode.NOT_REGISTERED,
            )
        if isinstance(message, Watch):
            return self._watch(record, message)
        if isinstance(message, Unwatch):
            self.registry.unwatch(record, message.files, message.globs)
            return [Watching(re=message.id, files=len(record.files), globs=len(record.globs))]
        if isinstance(message, Saved):
            return [self._saved(record, message)]
        raise ProtocolError(
            f"a client does not send {message.TYPE} messages", code=ErrorCode.UNEXPECTED
        )

    def _hello(self, identity: ClientId, hello: Hello) -> Message:
        if hello.protocol != PROTOCOL_VERSION:
            return Error(
                re=hello.id,
                code=ErrorCode.VERSION_MISMATCH,
                message=(
                    f"the client speaks protocol {hello.protocol} but this daemon (pid {os.getpid()}) "
                    f"speaks {PROTOCOL_VERSION}; install the same reloadd version for both, "
                    "then run 'reloadd stop' so the daemon restarts"
                ),
            )
        now = time.time()
        record = self.registry.adopt(identity, hello, now=now)
        taken_back = record.digest if record is not None else ""
        if record is not None:
            log.info(
                "%s is back; it keeps its registration of %d files",
                _label(record),
                len(record.files),
            )
        else:
            record = self.registry.add(identity, hello, now=now)
            log.info("%s connected", _label(record))
        return Welcome(
            re=hello.id,
            protocol=PROTOCOL_VERSION,
            instance=self.instance,
            root=str(self.endpoint.root),
            backend=self.backend.name,
            pid=os.getpid(),
            heartbeat=HEARTBEAT,
            registration=taken_back,
        )

    def _watch(self, record: ClientRecord, watch: Watch) -> list[Message]:
        """Register files; when they need a new root, watch it on the watch thread first.

        A first watch of a big tree can take seconds (Watchman crawls it): meanwhile
        the loop keeps answering everyone else, and this client gets its reply when
        the root is watched.
        """
        self.registry.check_limits(record, watch.files, watch.globs)
        # Interned: eight dev servers registering the same 20,000 paths share one copy.
        files = {sys.intern(given): self._realpath(given) for given in watch.files}
        globs = {glob: self._realpath(glob.directory) for glob in watch.globs}
        wanted_files, wanted_dirs = list(files.values()), list(globs.values())
        if watch.unchanged and self._roots_dropped:
            # What the client registered before was covered then; a root may be gone since.
            wanted_files += record.files.values()
            wanted_dirs += record.globs.values()
        new_roots = roots_to_add(wanted_files, wanted_dirs, self.endpoint.root, self._roots)
        if not new_roots:
            return self._register(record, watch, files, globs)
        identity = record.identity
        self._watch_thread.submit(self._watch_roots, new_roots, identity, watch, files, globs)
        return []

    def _watch_roots(
        self,
        new_roots: list[Path],
        identity: ClientId,
        watch: Watch,
        files: dict[str, str],
        globs: dict[GlobSpec, str],
    ) -> None:
        """On the watch thread: watch the roots, then hand the rest back to the main thread."""
        started = time.monotonic()
        error: BackendError | None = None
        try:
            self.backend.watch_roots(new_roots, timeout=WATCH_TIMEOUT)
        except BackendError as exc:
            error = exc
        watched_at = time.time()
        roots = self.backend.watched_roots()

        def finish() -> None:
            self._roots = roots
            if error is not None:
                log.error("the %s backend failed: %s", self.backend.name, error)
                self._send(
                    identity, Error(re=watch.id, code=ErrorCode.BACKEND_FAILED, message=str(error))
                )
                return
            for root in new_roots:
                self.history.root_watched(root, watched_at)
            log.info(
                "now watching %s (%.0f ms)",
                ", ".join(map(str, new_roots)),
                (time.monotonic() - started) * 1000,
            )
            record = self.registry.get(identity)
            if record is None or not record.connected:
                return  # it left while we watched; its next hello starts afresh
            for reply in self._register(record, watch, files, globs):
                self._send(identity, reply)

        try:
            self._finished.put(finish)
        except OSError:  # the daemon closed while this root was being watched
            pass

    def _register(
        self,
        record: ClientRecord,
        watch: Watch,
        files: dict[str, str],
        globs: dict[GlobSpec, str],
    ) -> list[Message]:
        """Add the files to the registry (their roots are watched); report what changed since."""
        self.registry.watch(record, files, globs)
        if watch.unchanged:
            # A restarted client kept its registration: apply ``since`` to all of it.
            files, globs = record.files, record.globs
        missed = self._not_yet_told(record, self.history.track(files, globs, watch.since))
        log.debug(
            "%s watches %d files and %d globs", _label(record), len(record.files), len(record.globs)
        )
        replies: list[Message] = [
            Watching(re=watch.id, files=len(record.files), globs=len(record.globs))
        ]
        if missed:
            log.info(
                "%s: %d changed since %.3f, e.g. %s",
                _label(record),
                len(missed),
                watch.since,
                min(missed),
            )
            replies.append(_changed(missed, time.time()))
        return replies

    def _saved(self, record: ClientRecord, saved: Saved) -> Noted:
        """An editor's save report: the backend's next batch, handled now.

        The backend reports the same writes a little later; the history drops them then.
        """
        at = time.time()
        changed = self.history.report({self._realpath(path) for path in saved.paths}, at)
        notified = self._notify(changed, at)
        log.debug(
            "%s saved %d files, %d of them changed; told %d clients",
            _label(record),
            len(saved.paths),
            len(changed),
            notified,
        )
        return Noted(re=saved.id, notified=notified, recorded=len(changed))

    def _status(self, asker: ClientId, status: Status) -> StatusReply:
        """Describe the daemon and every client but the one asking."""
        self._update_idle(time.time())
        return StatusReply(
            re=status.id,
            root=str(self.endpoint.root),
            endpoint=self.endpoint.address,
            pid=os.getpid(),
            backend=self.backend.name,
            protocol=PROTOCOL_VERSION,
            instance=self.instance,
            started_at=self.started_at,
            idle_since=self.idle_since,
            watched_roots=tuple(sorted(map(str, self._roots))),
            clients=tuple(
                ClientInfo(
                    name=record.name,
                    pid=record.pid,
                    role=record.role,
                    files=len(record.files),
                    globs=len(record.globs),
                    connected_at=record.connected_at,
                    connected=record.connected,
                )
                for record in self.registry
                if record.identity != asker
            ),
        )

    # -- changes --------------------------------------------------------------------------------

    def _dispatch(self, batch: ChangeBatch) -> None:
        at = time.time()
        changed = self.history.observe(batch, at)
        if batch.rescan_roots:
            log.info(
                "rescanned %s: %d registered files really changed",
                ", ".join(map(str, sorted(batch.rescan_roots))),
                len(changed - batch.paths),
            )
        self._notify(changed, at)

    def _notify(self, changed: set[str], at: float) -> int:
        """Send each connected client its own paths among ``changed``; return how many were told."""
        told = 0
        for identity, routed in self.registry.route(changed).items():
            record = self.registry.get(identity)
            if record is None or not record.connected:
                continue  # a departed client learns of these from the log when it is back
            paths = self._not_yet_told(record, routed)
            if not paths:
                continue
            log.info("%s: %d changed, e.g. %s", _label(record), len(paths), min(paths))
            if self._send(identity, _changed(paths, at)):
                told += 1
        return told

    def _forget_dropped_roots(self) -> None:
        """Stop counting as watched the roots the backend dropped, so they are watched again."""
        watched = self.backend.watched_roots()
        kept = frozenset(root for root in self._roots if is_covered(root, watched))
        if kept != self._roots:
            log.info(
                "no longer watching %s; a client registering files there watches it again",
                ", ".join(map(str, sorted(self._roots - kept))),
            )
            self._roots, self._roots_dropped = kept, True

    def _not_yet_told(self, record: ClientRecord, paths: set[str]) -> set[str]:
        """Drop files the client was already told about in their current state.

        A change reported at registration (from the history) may still be in flight
        from the backend; it must not be reported twice.
        """
        fresh: set[str] = set()
        for given in paths:
            real = record.files.get(given)
            if real is None or real not in self.history.states:
                fresh.add(given)
                continue
            state = self.history.states.get(real)
            if real in record.told and record.told[real] == state:
                continue
            record.told[real] = state
            fresh.add(given)
        return fresh

    def _send(self, identity: ClientId, message: Message) -> bool:
        """Send one message; a client that cannot be sent to is treated as departed (False)."""
        try:
            self._socket.send_multipart([identity, encode(message)], zmq.NOBLOCK)
        except zmq.ZMQError as exc:
            # EHOSTUNREACH: the peer is gone (ROUTER_MANDATORY); EAGAIN: it stopped reading.
            record = self.registry.depart(identity, until=time.time() + self.grace)
            who = _label(record) if record else "an unregistered peer"
            log.warning(
                "could not send %s to %s (%s); treating it as gone", message.TYPE, who, exc.strerror
            )
            return False
        return True

    # -- housekeeping ---------------------------------------------------------------------------

    def _update_idle(self, now: float) -> None:
        if any(record.role is not Role.TOOL for record in self.registry):
            self.idle_since = 0.0
        elif not self.idle_since:
            self.idle_since = now

    def _housekeeping(self) -> None:
        self._forget_dropped_roots()
        now = time.time()
        for record in self.registry:
            if not record.connected:
                continue
            if not _pid_alive(record.pid):
                reason = "exited without saying goodbye"
            elif now - record.last_seen > SILENCE_LIMIT:
                reason = f"was silent for {now - record.last_seen:.0f} s"
            else:
                continue
            log.info("%s %s; keeping its registration for %g s", _label(record), reason, self.grace)
            self.registry.depart(record.identity, until=now + self.grace)
        expired = self.registry.expire(now)
        if expired:
            for record in expired:
                log.info("forgot %s after its grace period", _label(record))
            self.history.forget_untracked(self.registry.tracked_files())
        self._update_idle(now)
        self._save_state()

    def _save_state(self, *, force: bool = False) -> None:
        if self._state is not None:
            self._state.save(self._roots, flush=self._flush_changes, force=force)

    def _flush_changes(self) -> None:
        for batch in self.changes.drain():
            self._dispatch(batch)

    def _describe(self, identity: ClientId) -> str:
        record = self.registry.get(identity)
        return _label(record) if record else f"unregistered connection {identity.hex()}"


def _changed(paths: set[str], at: float) -> Changed:
    ordered = sorted(paths)
    return Changed(
        paths=tuple(ordered[:MAX_CHANGED_PATHS]), truncated=len(ordered) > MAX_CHANGED_PATHS, at=at
    )


def _label(record: ClientRecord) -> str:
    return f"{record.name} (pid {record.pid})"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
