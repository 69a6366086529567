"""A subscriber that never reads: the daemon's memory stays bounded, others are served as usual,
and once it reads it is told how many events it missed."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import zmq

from reloadd.client import Client, Role
from reloadd.protocol import (
    PROTOCOL_VERSION,
    Event,
    EventKind,
    EventsRead,
    Hello,
    Ping,
    Subscribe,
    Subscribed,
    decode,
    encode,
)
from reloadd.protocol.limits import (
    MAX_PATH_LENGTH,
    MAX_QUEUED_EVENT_BYTES_PER_SUBSCRIBER,
    MAX_QUEUED_EVENTS_PER_SUBSCRIBER,
)
from tests.daemon_process import DaemonProcess
from tests.integration.events_helpers import replace_atomically
from tests.integration.helpers import expect_changes
from tests.integration.raw_client import REPLY_TIMEOUT_MS, RawSockets, ask
from tests.process_stats import rss_bytes

MB = 1024 * 1024

QUIET_MS = 1000
"""How long the stalled subscriber waits for more before taking its queue as drained."""

SAVES = 120
"""Saves reported while the subscriber does not read: each makes a ``saved`` event of about
1 MB (256 paths of 4,000 characters), 120 MB in all if the daemon queued them."""


@pytest.fixture
def backend_name() -> str:
    """About the daemon's queues, not the watcher: the built-in one suffices."""
    return "builtin"


def long_paths(project: Path, count: int) -> list[str]:
    """``count`` paths in the project, each about ``MAX_PATH_LENGTH - 100`` characters long."""
    folder = str(project / ("d" * 200))
    stem = "f" * (MAX_PATH_LENGTH - 100 - len(folder))
    return [f"{folder}/{stem}{i:05d}.py" for i in range(count)]


def subscribe_raw(sock: zmq.Socket[bytes]) -> None:
    """Register a raw socket as a tool and subscribe it."""
    ask(sock, encode(Hello(id=1, protocol=PROTOCOL_VERSION, name="stalled", pid=os.getpid(),
                           role=Role.TOOL)))  # fmt: skip
    assert isinstance(ask(sock, encode(Subscribe(id=2))), Subscribed)


def test_a_subscriber_that_never_reads_costs_bounded_memory_and_learns_what_it_missed(
    project: Path, daemon: DaemonProcess, raw_sockets: RawSockets
) -> None:
    app = project / "app.py"
    app.write_text("x = 1\n")
    paths = long_paths(project, 256)
    stalled = raw_sockets.context.socket(zmq.DEALER)
    raw_sockets.sockets.append(stalled)
    # A reader that stopped: its own end takes in one message and a 4 kB kernel buffer, so
    # what it is sent waits in the daemon's queue (a hung editor's would).
    stalled.setsockopt(zmq.LINGER, 0)
    stalled.setsockopt(zmq.RCVHWM, 1)
    stalled.setsockopt(zmq.RCVBUF, 4096)
    stalled.connect(daemon.endpoint.address)
    with (
        Client(project, name="web", spawn=False) as web,
        Client(project, name="editor", role=Role.EDITOR, spawn=False) as editor,
    ):
        web.watch(files=[app])
        subscribe_raw(stalled)
        before = peak = rss_bytes(daemon.pid)
        for n in range(SAVES):
            editor.saved(paths)  # no one registered them: one ``saved`` event each, no change
            stalled.send(encode(Ping(id=100 + n)))  # it pings, as a heartbeat thread does
            peak = max(peak, rss_bytes(daemon.pid))
        # Another client's notifications are unaffected: one change, told at once.
        replace_atomically(app, "x = 2\n")
        expect_changes(web, app)
        stalled.send(encode(Ping(id=99)))
    # Since it subscribed: SAVES ``saved``, one ``changed``, the editor and web leaving.
    emitted = SAVES + 3
    grew = peak - before
    print(f"daemon RSS: {before / MB:.1f} MB, at most {peak / MB:.1f} MB with a stalled subscriber")
    assert grew < MAX_QUEUED_EVENT_BYTES_PER_SUBSCRIBER + 40 * MB, (
        f"the daemon grew by {grew / MB:.0f} MB for a subscriber that never reads"
    )
    # What it was sent meanwhile: events numbered 1..k, within the limits.
    events: list[Event] = []
    while stalled.poll(QUIET_MS):
        message = decode(stalled.recv())
        if isinstance(message, Event):
            events.append(message)
    assert [event.seq for event in events] == list(range(1, len(events) + 1))
    assert 0 < len(events) <= MAX_QUEUED_EVENTS_PER_SUBSCRIBER
    assert sum(len(encode(event)) for event in events) <= MAX_QUEUED_EVENT_BYTES_PER_SUBSCRIBER
    # Once it says it read them, it is told how many it missed, then gets live events again.
    stalled.send(encode(EventsRead(seq=events[-1].seq)))
    assert stalled.poll(REPLY_TIMEOUT_MS), "no events-dropped after catching up"
    notice = decode(stalled.recv())
    assert isinstance(notice, Event)
    assert notice.event is EventKind.EVENTS_DROPPED
    assert (notice.dropped, notice.seq) == (emitted - len(events), events[-1].seq + 1)
    with Client(project, name="worker", spawn=False):
        assert stalled.poll(REPLY_TIMEOUT_MS), "no live event after events-dropped"
        joined = decode(stalled.recv())
        assert isinstance(joined, Event)
        assert joined.event is EventKind.CLIENT_JOINED
        assert (joined.client, joined.seq) == ("worker", notice.seq + 1)
