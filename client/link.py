"""Keeping a client's connection: its states, reconnecting, falling back to polling, heartbeats.

:class:`Link` is the half of :class:`~reloadd.client.Client` that reacts to the daemon
(gone, restarted, silent, back) rather than to the application; every change of
state goes through ``self._machine.enter`` (:mod:`reloadd.client.states`).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from reloadd.client import log
from reloadd.client.channel import Channel
from reloadd.client.connect import Dialer
from reloadd.client.polling import POLL_INTERVAL, PollingWatcher
from reloadd.client.requests import reregister
from reloadd.client.states import State, StateMachine
from reloadd.protocol import (
    Changed,
    DaemonNotRunning,
    DaemonTimeout,
    Event,
    GlobSpec,
    Message,
    Ping,
    Pong,
    ReloaddError,
    Restart,
    Welcome,
)
from reloadd.protocol.defaults import DEFAULT_HEARTBEAT

MISSED_PINGS = 3
"""A daemon that answers nothing for this many heartbeats is taken for gone."""

RETRY_INTERVAL = 5.0
"""Seconds between attempts to reach the daemon again while falling back to polling."""


def first_line(error: Exception) -> str:
    """An error's message on one line (a daemon's log tail, which may follow, is left out)."""
    lines = str(error).splitlines()
    return lines[0].rstrip(":, ") if lines else type(error).__name__


class Link:
    """The connection state of a client; :class:`~reloadd.client.Client` adds the public API."""

    root: Path
    spawn: bool
    fallback: bool
    request_timeout: float
    _dialer: Dialer
    _machine: StateMachine
    _welcome: Welcome | None
    _channel: Channel | None
    _polling: PollingWatcher | None
    """The in-process watcher while no daemon can be reached (POLLING, and RECONNECTING from it)."""
    _files: set[str]
    _globs: set[GlobSpec]
    _pending: list[str]
    """Changed paths not yet returned by ``wait()``."""
    _more: bool
    """The last ``changed`` message said another part of it follows."""
    _restart_asked: bool
    """A ``restart`` came (``reloadd reload``) that ``wait()`` has not returned yet."""
    _last_heard: float
    _next_retry: float

    # -- state changes --------------------------------------------------------------------------

    def _attach(self, channel: Channel, welcome: Welcome) -> None:
        self._channel, self._welcome = channel, welcome

    def _detach(self, *, goodbye: bool = False) -> None:
        if self._channel is not None:
            self._last_heard = max(self._last_heard, self._channel.last_heard)
            self._channel.close(goodbye=goodbye)
            self._channel = None
        self._welcome = None

    def _start_heartbeat(self) -> None:
        assert self._channel is not None
        assert self._welcome is not None
        self._channel.start_heartbeat(self._welcome.heartbeat)

    def _reconnect(self, reason: Exception, *, since: float | None = None) -> None:
        """Reach a daemon again (REGISTERED), else POLLING; LOST (raising) if it may not poll.

        Changes made after ``since`` (by default, when the daemon was last heard) are reported.
        """
        from_polling = self._polling is not None
        self._detach()
        since = self._last_heard if since is None else since
        self._machine.enter(State.RECONNECTING, reason)
        self._more = False
        try:
            self._attach(*self._dialer.connect(spawn=self.spawn))
            if self._polling is not None:
                self._pending.extend(self._polling.poll())
            reregister(
                self._require_channel(),
                self._welcome,
                self._files,
                self._globs,
                since,
                self.request_timeout,
            )
            self._after_reconnect()
        except ReloaddError as exc:
            self._detach()
            if not self.fallback:
                self._machine.enter(State.LOST, exc)
                raise
            self._fall_back(exc, since=since)
            return
        self._polling = None
        self._machine.enter(State.REGISTERED, "registered again")
        self._start_heartbeat()
        if from_polling:
            print(
                f"reloadd: the daemon for {self.root} is back; stopped polling.",
                file=sys.stderr,
                flush=True,
            )
        else:
            log.info("registered again with the reloadd daemon for %s (%s)", self.root, reason)

    def _fall_back(self, reason: Exception, *, since: float) -> None:
        """Poll in-process (POLLING); say so unless this was a failed retry of polling."""
        self._detach()
        quiet = self._polling is not None
        if self._polling is None:
            self._polling = PollingWatcher(self._files, self._globs, since)
        self._machine.enter(State.POLLING, reason)
        self._next_retry = time.monotonic() + RETRY_INTERVAL
        if not quiet:
            print(
                f"reloadd: cannot reach the daemon for {self.root} ({first_line(reason)}). Watching "
                f"{len(self._files)} files and {len(self._globs)} globs in this process, by "
                f"polling every {POLL_INTERVAL:g} s, until it is back.",
                file=sys.stderr,
                flush=True,
            )

    def _retry_if_lost(self) -> None:
        if self._machine.state is State.LOST:
            self._reconnect(DaemonNotRunning("retrying"))

    # -- while registered or polling ------------------------------------------------------------

    def _poll_once(self, remaining: float | None) -> None:
        assert self._polling is not None
        time.sleep(POLL_INTERVAL if remaining is None else max(0.0, min(POLL_INTERVAL, remaining)))
        self._pending.extend(self._polling.poll())
        if time.monotonic() >= self._next_retry:
            self._next_retry = time.monotonic() + RETRY_INTERVAL
            self._reconnect(DaemonNotRunning("time to try again"), since=time.time())

    def _wait_on_daemon(self, remaining: float | None) -> None:
        channel = self._require_channel()
        heartbeat = self._welcome.heartbeat if self._welcome is not None else DEFAULT_HEARTBEAT
        try:
            if time.monotonic() - channel.last_sent >= heartbeat:
                channel.send(Ping(id=channel.next_id()))
            slice_ = heartbeat - (time.monotonic() - channel.last_sent)
            if remaining is not None:
                slice_ = min(slice_, remaining)
            message = channel.receive(max(0.0, slice_))
            # Judged only once nothing is queued: an application busy for a while must not
            # take the daemon for gone before reading what it sent meanwhile.
            silent_for = time.time() - channel.last_heard
            if message is None and silent_for > MISSED_PINGS * heartbeat:
                raise DaemonTimeout(f"no answer for {silent_for:.1f} s")
        except (DaemonNotRunning, DaemonTimeout) as exc:
            self._reconnect(exc)
            return
        if message is not None:
            self._take(message)

    def _drain_now(self) -> None:
        try:
            while (
                self._machine.state is State.REGISTERED
                and (message := self._require_channel().receive(0)) is not None
            ):
                self._take(message)
        except (DaemonNotRunning, DaemonTimeout) as exc:
            self._reconnect(exc)

    def _take(self, message: Message) -> None:
        """Act on an unasked message: a notification, a restart asked for, or a pong that
        says we were forgotten."""
        if isinstance(message, Changed):
            self._on_changed(message)
        elif isinstance(message, Restart):
            self._restart_asked = True
        elif isinstance(message, Event):
            self._on_event(message)
        elif (
            isinstance(message, Pong)
            and self._welcome is not None
            and (message.instance != self._welcome.instance or not message.registered)
        ):
            self._reconnect(DaemonNotRunning("the daemon restarted or forgot this client"))

    def _on_event(self, message: Event) -> None:
        """An event of the subscription (see :class:`~reloadd.client.subscription.Subscriber`)."""

    def _after_reconnect(self) -> None:
        """Called once registered again with a daemon, before heartbeats resume."""

    def _on_changed(self, message: Changed) -> None:
        self._pending.extend(message.paths)
        self._more = message.more

    def _require_channel(self) -> Channel:
        if self._channel is None:
            raise DaemonNotRunning(f"not connected to the reloadd daemon for {self.root}")
        return self._channel
