"""The daemon's main loop: one ROUTER socket, the hand-overs from other threads, housekeeping.

The loop only waits and dispatches: each client message goes to its handler in
:data:`~reloadd.daemon.handlers.HANDLERS`; backend batches to
:mod:`~reloadd.daemon.notifier`; finished root watches to
:mod:`~reloadd.daemon.registration`. Nothing raised while handling one message,
one batch or one housekeeping round reaches the loop: it is logged with its
traceback (rate-limited) and, where a reply can be sent, answered ``internal``.
See :mod:`reloadd.daemon` for which thread owns what.
"""

from __future__ import annotations

import logging
import os
import signal
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from types import FrameType

import zmq

from reloadd.daemon.backends.base import Backend, ChangeBatch
from reloadd.daemon.connection_cap import ConnectionCap
from reloadd.daemon.context import HEARTBEAT, SILENCE_LIMIT, DaemonContext
from reloadd.daemon.events import EventBus
from reloadd.daemon.handlers import HANDLERS
from reloadd.daemon.history import ChangeHistory
from reloadd.daemon.housekeeping import HOUSEKEEPING_INTERVAL, check_clients
from reloadd.daemon.inbox import Inbox
from reloadd.daemon.log_limit import LimitedLog
from reloadd.daemon.notifier import on_batch
from reloadd.daemon.outbox import RECEIVE_HWM, SEND_HWM, Outbox
from reloadd.daemon.realpaths import RealPaths
from reloadd.daemon.registration import on_roots_watched
from reloadd.daemon.registry import ClientId, Registry
from reloadd.daemon.root_watcher import WATCH_TIMEOUT, RootWatcher
from reloadd.daemon.state_keeper import StateKeeper
from reloadd.daemon.watched_roots import WatchedRoots
from reloadd.protocol import (
    BackendError,
    Error,
    ErrorCode,
    Message,
    ProtocolError,
    decode_request,
    request_id,
)
from reloadd.protocol.defaults import DEFAULT_GRACE
from reloadd.protocol.endpoint import Endpoint
from reloadd.protocol.limits import MAX_MESSAGE_BYTES
from reloadd.protocol.wakeup import Wakeup

__all__ = [
    "DEFAULT_GRACE",
    "HEARTBEAT",
    "HOUSEKEEPING_INTERVAL",
    "SILENCE_LIMIT",
    "WATCH_TIMEOUT",
    "Daemon",
]

log = logging.getLogger("reloadd.daemon")

_MAX_MESSAGES_PER_WAKE = 256
_MAX_ERROR_TEXT = 1000


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
        """``idle_exit``: stop after this many seconds with no client but one-shot tools (none
        connected, none kept for its grace period); 0 means never."""
        self.endpoint = endpoint
        self.grace = grace
        self.state_path = state_path
        self.idle_exit = idle_exit
        self.changes: Inbox[ChangeBatch] = Inbox()
        """Batches from the backend's threads, drained by the loop."""
        self._stop_signalled = False
        self._state: StateKeeper | None = None
        self._ctx: DaemonContext | None = None
        self._errors = LimitedLog(log)
        self._zmq = zmq.Context()
        self._socket = self._zmq.socket(zmq.ROUTER)
        self._cap: ConnectionCap | None = None

    @property
    def ctx(self) -> DaemonContext:
        """The daemon's state (set by :meth:`bind`)."""
        assert self._ctx is not None, "bind() builds the context"
        return self._ctx

    def bind(self, backend: Backend) -> None:
        """Attach the started backend, resume the previous run's watches, and bind the endpoint."""
        history = ChangeHistory()
        if self.state_path is not None:
            self._state = StateKeeper(
                self.state_path, backend, history, watch_timeout=WATCH_TIMEOUT
            )
            self._state.resume()
        outbox = Outbox(self._socket, self._unreachable)
        self._ctx = DaemonContext(
            endpoint=self.endpoint,
            instance=uuid.uuid4().hex,
            grace=self.grace,
            backend=backend,
            registry=Registry(),
            history=history,
            roots=WatchedRoots(backend, history),
            outbox=outbox,
            events=EventBus(outbox.send_encoded),
            root_watcher=RootWatcher(backend),
            realpath=RealPaths(),
            bad_input=LimitedLog(log),
        )
        sock = self._socket
        sock.setsockopt(zmq.LINGER, 0)
        sock.setsockopt(zmq.ROUTER_MANDATORY, 1)
        # Oversized frames are dropped by ZeroMQ itself; up to this size we read them and reply.
        sock.setsockopt(zmq.MAXMSGSIZE, 2 * MAX_MESSAGE_BYTES)
        sock.setsockopt(zmq.SNDHWM, SEND_HWM)
        sock.setsockopt(zmq.RCVHWM, RECEIVE_HWM)
        old_umask = os.umask(0o177)
        try:
            sock.bind(self.endpoint.address)
        finally:
            os.umask(old_umask)
        self._cap = ConnectionCap(sock)

    def serve(self) -> None:
        """Run the loop until a ``stop`` request, SIGTERM, SIGINT or the idle timeout."""
        ctx = self.ctx
        signals = Wakeup()
        previous_wakeup = signal.set_wakeup_fd(signals.write_fd)
        previous_handlers = {
            sig: signal.signal(sig, self._on_signal) for sig in (signal.SIGTERM, signal.SIGINT)
        }
        watched = ctx.root_watcher.done
        poller = zmq.Poller()
        for source in (self._socket, self.changes.fileno(), watched.fileno(), signals.fileno()):
            poller.register(source, zmq.POLLIN)
        next_housekeeping = time.monotonic() + HOUSEKEEPING_INTERVAL
        try:
            while not (ctx.stopping or self._stop_signalled):
                timeout_ms = max(0, int((next_housekeeping - time.monotonic()) * 1000))
                ready = dict(poller.poll(timeout_ms))
                if self.changes.fileno() in ready:
                    self._flush_changes()
                if watched.fileno() in ready:
                    for outcome in watched.drain():
                        self._guarded("completing a root watch", on_roots_watched, ctx, outcome)
                if self._socket in ready:
                    self._guarded("reading requests", self._read_requests)
                if signals.fileno() in ready:
                    signals.clear()
                if time.monotonic() >= next_housekeeping:
                    self._guarded("checking on clients", check_clients, ctx)
                    self._guarded("saving the state", self._save_state)
                    self._check_idle()
                    next_housekeeping = time.monotonic() + HOUSEKEEPING_INTERVAL
        finally:
            signal.set_wakeup_fd(previous_wakeup)
            for sig, handler in previous_handlers.items():
                signal.signal(sig, handler)
            signals.close()

    def close(self) -> None:
        """Save the state, close the socket and remove its file, then stop the backend."""
        if self._ctx is not None:
            self._ctx.root_watcher.close()
            try:
                self._save_state(force=True)
            except Exception:  # best effort: the socket must still go
                log.exception("could not save the daemon's state")
        if self._cap is not None:
            self._cap.close()
        self._socket.close(linger=0)
        self._zmq.term()
        self.endpoint.socket_path.unlink(missing_ok=True)
        if self._ctx is not None:
            self._ctx.backend.close()
        self.changes.close()

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        log.info("received %s, shutting down", signal.Signals(signum).name)
        self._stop_signalled = True

    def _guarded(self, what: str, work: Callable[..., None], *args: object) -> None:
        """Run one unit of the loop's work; a failure is logged, never raised into the loop."""
        try:
            work(*args)
        except Exception:  # noqa: BLE001  (the loop's boundary: logged with its traceback)
            self._errors.exception(what, "the daemon failed while %s; it serves on", what)

    # -- requests -------------------------------------------------------------------------------

    def _read_requests(self) -> None:
        for _ in range(_MAX_MESSAGES_PER_WAKE):
            try:
                frames = self._socket.recv_multipart(zmq.NOBLOCK, copy=True)
            except zmq.Again:
                return
            self._guarded("handling a message", self._handle, frames)

    def _handle(self, frames: list[bytes]) -> None:
        """Answer one message: the boundary around its handler."""
        ctx = self.ctx
        identity = frames[0]
        record = ctx.registry.get(identity)
        if record is not None and record.connected:
            record.last_seen = time.time()
        ctx.outbox.heard_from(identity)
        if len(frames) != 2:
            ctx.bad_input.warning(
                identity,
                "refused a message of %d frames from %s",
                len(frames) - 1,
                ctx.describe(identity),
            )
            text = "a message must be exactly one frame"
            ctx.outbox.send(identity, Error(re=None, code=ErrorCode.BAD_MESSAGE, message=text))
            return
        data = frames[1]
        try:
            replies = self._answer(identity, data)
        except ProtocolError as exc:
            ctx.bad_input.warning(
                identity, "refused a message from %s: %s", ctx.describe(identity), exc
            )
            replies = [_error(data, exc.code, str(exc))]
        except BackendError as exc:
            log.error("the %s backend failed: %s", ctx.backend.name, exc)
            replies = [_error(data, ErrorCode.BACKEND_FAILED, str(exc))]
        except Exception as exc:  # noqa: BLE001  (one message's boundary: logged, answered)
            self._errors.exception(
                "handler", "the daemon failed handling a message from %s", ctx.describe(identity)
            )
            text = (
                f"the daemon failed while handling this request ({type(exc).__name__}); "
                "its log has the details; the request may be sent again"
            )
            replies = [_error(data, ErrorCode.INTERNAL, text)]
        for reply in replies:
            ctx.outbox.send(identity, reply)
        record = ctx.registry.get(identity)
        if record is not None and record.connected:
            ctx.outbox.release_held(identity)

    def _answer(self, identity: ClientId, data: bytes) -> list[Message]:
        message = decode_request(data)
        handler = HANDLERS.get(type(message))
        if handler is None:
            raise ProtocolError(
                f"a client does not send {message.TYPE} messages", code=ErrorCode.UNEXPECTED
            )
        return handler(self.ctx, identity, message)

    def _unreachable(self, identity: ClientId, message_type: str, reason: str) -> None:
        """A connection could not be sent to: treat its client as gone."""
        ctx = self.ctx
        if ctx.registry.get(identity) is None:
            ctx.bad_input.log(
                logging.DEBUG,
                identity,
                "could not send %s to an unregistered peer (%s)",
                message_type,
                reason,
            )
            return
        ctx.depart(identity, f"could not be sent {message_type} ({reason}), so counts as gone")

    # -- changes and housekeeping ---------------------------------------------------------------

    def _flush_changes(self) -> None:
        for batch in self.changes.drain():
            self._guarded("routing a change batch", on_batch, self.ctx, batch)

    def _check_idle(self) -> None:
        ctx = self.ctx
        if ctx.idle_for() >= self.idle_exit > 0:
            log.info("no client for %g s; exiting (--idle-exit)", self.idle_exit)
            ctx.stopping = True

    def _save_state(self, *, force: bool = False) -> None:
        if self._state is not None:
            self._state.save(self.ctx.roots.current, flush=self._flush_changes, force=force)


def _error(data: bytes, code: ErrorCode, text: str) -> Error:
    """An error reply naming the request's id if it can be read."""
    try:
        re = request_id(data)
    except Exception:  # noqa: BLE001  (an id unreadable in some new way: reply without one)
        re = None
    return Error(re=re, code=code, message=text[:_MAX_ERROR_TEXT])
