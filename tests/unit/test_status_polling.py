"""``reloadd status`` names the polled roots, and only when there are some."""

from __future__ import annotations

import json

from reloadd.client.cli_status import format_status, status_as_json
from reloadd.protocol import PROTOCOL_VERSION, StatusReply


def reply(**fields: object) -> StatusReply:
    base: dict[str, object] = {
        "re": 1,
        "root": "/proj",
        "endpoint": "ipc:///run/x.sock",
        "pid": 42,
        "backend": "watchman",
        "protocol": PROTOCOL_VERSION,
        "instance": "abc",
        "started_at": 1.0,
        "watched_roots": ("/proj", "/usr/lib/python3.12"),
        "clients": (),
    }
    return StatusReply(**{**base, **fields})  # type: ignore[arg-type]


def test_the_polled_roots_get_a_line_of_their_own() -> None:
    text = format_status(reply(polled_roots=("/proj",)))
    assert "polling   /proj (no file events there)" in text.splitlines()


def test_no_line_when_nothing_is_polled() -> None:
    assert "polling" not in format_status(reply())


def test_json_lists_them() -> None:
    data = status_as_json(reply(polled_roots=("/proj",)))
    assert json.loads(json.dumps(data))["polled_roots"] == ["/proj"]
