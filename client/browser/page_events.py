"""What a page's event stream carries, and its bytes on the wire (Server-Sent Events).

One event per thing the page must act on (see ``docs/browser.md``):

* ``hello`` ``{"boot", "server"}``: first on every stream; ``boot`` names the server
  process. A page that sees another ``boot`` than the one that served it reloads;
* ``reload`` ``{"paths"}``: a template (or another file the server reads afresh) changed
  and the server has dropped its cache: reload now;
* ``css`` ``{"paths"}``: stylesheets changed (paths relative to their static folder):
  swap them in place;
* ``crashed`` ``{"type", "message", "file", "line"}``: the server cannot run; show it
  until a server says ``hello`` again.

Sans-IO: encoding only, no sockets, no threads.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from reloadd.protocol import Crash

KEEPALIVE = b": keep-alive\n\n"
"""A comment line: keeps proxies from timing the stream out, and finds pages gone."""

STREAM_HEADERS = (
    ("Content-Type", "text/event-stream; charset=utf-8"),
    ("Cache-Control", "no-cache, no-store, no-transform"),
    ("X-Accel-Buffering", "no"),
)
"""The headers of an event stream (never cached, never buffered by a proxy)."""


@dataclass(frozen=True)
class PageEvent:
    """One event for the pages: its ``kind`` and a JSON-able ``data`` object."""

    kind: str
    data: dict[str, Any] = field(default_factory=dict)

    def encode(self) -> bytes:
        """The event as Server-Sent Events bytes (``event:`` and one ``data:`` line)."""
        payload = json.dumps(self.data, separators=(",", ":"), ensure_ascii=True)
        return f"event: {self.kind}\ndata: {payload}\n\n".encode()


def hello(boot: str, server: str) -> PageEvent:
    """The first event of a stream: which server process answers."""
    return PageEvent("hello", {"boot": boot, "server": server})


def reload(paths: Iterable[str]) -> PageEvent:
    """Reload the page: ``paths`` changed, and the server reads them afresh now."""
    return PageEvent("reload", {"paths": sorted(paths)})


def css(paths: Iterable[str]) -> PageEvent:
    """Swap the stylesheets at ``paths`` (relative to their static folder, ``/``-separated)."""
    return PageEvent("css", {"paths": sorted(paths)})


def crashed(crash: Crash) -> PageEvent:
    """The server cannot run: what failed, and where."""
    return PageEvent(
        "crashed",
        {"type": crash.type, "message": crash.message, "file": crash.file, "line": crash.line},
    )
