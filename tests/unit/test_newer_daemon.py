"""A client skips what only a newer daemon sends unasked (new message types, new event kinds)."""

from __future__ import annotations

import msgpack
import pytest

from reloadd.client.channel import newer_than_us
from reloadd.protocol import ProtocolError, decode_reply


def refusal(raw: dict[str, object]) -> tuple[bytes, ProtocolError]:
    data = msgpack.packb(raw)
    with pytest.raises(ProtocolError) as caught:
        decode_reply(data)
    return data, caught.value


def test_a_message_type_it_does_not_know_is_skipped() -> None:
    assert newer_than_us(*refusal({"type": "progress", "done": 3}))


def test_an_event_of_a_kind_it_does_not_know_is_skipped() -> None:
    assert newer_than_us(*refusal({"type": "event", "event": "browser-reloaded", "time": 1.0}))


def test_a_known_message_that_is_malformed_is_a_fault() -> None:
    assert not newer_than_us(*refusal({"type": "changed", "paths": "not a list"}))
    assert not newer_than_us(*refusal({"type": "welcome", "re": 1}))
