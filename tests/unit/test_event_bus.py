"""The daemon's event bus in memory: numbering, the per-subscriber bound, and events-dropped."""

from __future__ import annotations

from reloadd.daemon.events import EventBus, bounded_paths
from reloadd.protocol import Event, EventKind, decode, encode


class Sent:
    """Records what the bus sends, per connection; ``refuse`` makes sends to one fail."""

    def __init__(self) -> None:
        self.messages: dict[bytes, list[Event]] = {}
        self.refuse: set[bytes] = set()

    def __call__(self, identity: bytes, message_type: str, data: bytes) -> bool:
        if identity in self.refuse:
            return False
        message = decode(data)
        assert isinstance(message, Event)
        assert message_type == "event"
        self.messages.setdefault(identity, []).append(message)
        return True


def state_event(n: int, size: int = 0) -> Event:
    return Event(event=EventKind.SAVED, time=float(n), client="c" * size or "ed")


def test_events_are_numbered_per_subscriber() -> None:
    sent = Sent()
    bus = EventBus(sent)
    bus.subscribe(b"a")
    bus.emit(state_event(1))
    bus.subscribe(b"b")
    bus.subscribe(b"b")  # again: still one subscription
    bus.emit(state_event(2))
    assert [e.seq for e in sent.messages[b"a"]] == [1, 2]
    assert [(e.seq, e.time) for e in sent.messages[b"b"]] == [(1, 2.0)]


def test_a_subscriber_over_its_bound_misses_events_and_is_told_once_it_caught_up() -> None:
    sent = Sent()
    bus = EventBus(sent, max_events=3)
    bus.subscribe(b"slow")
    bus.subscribe(b"fast")
    for n in range(10):
        bus.emit(state_event(n))
        bus.read(b"fast", n + 1)
    assert len(sent.messages[b"fast"]) == 10
    assert [e.seq for e in sent.messages[b"slow"]] == [1, 2, 3]
    assert bus.dropped(b"slow") == 7
    bus.read(b"slow", 2)  # not caught up yet: nothing
    assert len(sent.messages[b"slow"]) == 3
    bus.emit(state_event(10))  # still dropping, so that events stay in order
    bus.read(b"slow", 3)
    notice = sent.messages[b"slow"][-1]
    assert (notice.event, notice.dropped, notice.seq) == (EventKind.EVENTS_DROPPED, 8, 4)
    bus.emit(state_event(11))
    assert sent.messages[b"slow"][-1].seq == 5
    assert bus.dropped(b"slow") == 0


def test_the_byte_bound_holds_too() -> None:
    sent = Sent()
    one = len(encode(Event(event=EventKind.SAVED, time=1.0, client="c" * 200, seq=1)))
    bus = EventBus(sent, max_bytes=2 * one + 10)
    bus.subscribe(b"a")
    for n in range(5):
        bus.emit(state_event(n, size=200))
    assert len(sent.messages[b"a"]) == 2
    assert bus.dropped(b"a") == 3


def test_a_subscriber_that_cannot_be_sent_to_is_dropped() -> None:
    sent = Sent()
    bus = EventBus(sent)
    bus.subscribe(b"gone")
    sent.refuse.add(b"gone")
    bus.emit(state_event(1))
    assert b"gone" not in bus
    assert len(bus) == 0


def test_paths_are_bounded_and_the_rest_counted() -> None:
    assert bounded_paths(["/c", "/a", "/b"], 2) == (("/a", "/b"), 1)
    assert bounded_paths([], 2) == ((), 0)
