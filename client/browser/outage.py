"""What the stand-in (:mod:`reloadd.client.standin`) answers a browser while no server runs.

Sans-IO: from a request's head and the :class:`~reloadd.client.standin.Outage`, the bytes
to send, and whether to hold the connection open:

* ``GET /__reloadd__/events``: an event stream carrying ``crashed`` (the error, its
  file and line), held open until the stand-in stops. The page shows the crash; when
  the stream ends, its next connection waits in the kept socket's backlog until the
  next server accepts it, whose ``hello`` reloads the page;
* ``GET /__reloadd__/reload.js``: the refresh script;
* any other request from a browser (``Accept: text/html``): the ``503`` page as HTML,
  with the refresh script, so that it too reloads once the server runs again;
* anything else: the plain-text ``503`` page (:func:`~reloadd.client.standin.http_response`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from html import escape
from typing import TYPE_CHECKING

from reloadd.client.browser import page_events
from reloadd.client.browser.assets import SCRIPT_HEADERS, script
from reloadd.client.browser.inject import EVENTS_PATH, SCRIPT_PATH, script_tag
from reloadd.protocol import Crash

if TYPE_CHECKING:
    from reloadd.client.standin import Outage

_REQUEST_LINE = re.compile(rb"([A-Z]+) (\S+) HTTP/")
_ACCEPT = re.compile(rb"^accept:(.*)$", re.IGNORECASE | re.MULTILINE)

STANDIN_BOOT = "stand-in"
"""The ``data-boot`` of the stand-in's page: no server process served it."""


@dataclass(frozen=True)
class Answer:
    """The bytes to send, and whether the connection then stays open (an event stream)."""

    data: bytes
    hold: bool = False


def target(head: bytes) -> tuple[str, str]:
    """The method and path (query left out) of a request head; ``("", "")`` if unreadable."""
    found = _REQUEST_LINE.match(head)
    if found is None:
        return "", ""
    path = found.group(2).split(b"?", 1)[0]
    return found.group(1).decode("ascii", "replace"), path.decode("latin-1")


def wants_html(head: bytes) -> bool:
    """Whether the request's ``Accept`` names ``text/html`` (a browser's navigation)."""
    return any(b"text/html" in found.group(1).lower() for found in _ACCEPT.finditer(head))


def crash_of_outage(outage: Outage) -> Crash:
    """The crash a page shows: the outage's own, else its text."""
    if outage.crash is not None:
        return outage.crash
    return Crash("", outage.error or outage.what)


def browser_answer(head: bytes, outage: Outage) -> Answer | None:
    """The answer to a browser's request, or None for the plain-text ``503`` page."""
    method, path = target(head)
    if method not in ("GET", "HEAD"):
        return None
    if path == EVENTS_PATH:
        stream_head = _head("200 OK", page_events.STREAM_HEADERS, None)
        event = page_events.crashed(crash_of_outage(outage)).encode()
        return Answer(stream_head + event, hold=True)
    if path == SCRIPT_PATH:
        body = script()
        return Answer(_head("200 OK", SCRIPT_HEADERS, len(body)) + _body(method, body))
    if wants_html(head):
        body = html_page(outage)
        headers = (("Content-Type", "text/html; charset=utf-8"), ("Retry-After", "2"))
        return Answer(_head("503 Service Unavailable", headers, len(body)) + _body(method, body))
    return None


def html_page(outage: Outage) -> bytes:
    """The ``503`` page as HTML, with the refresh script."""
    return (
        "<!doctype html><html><head><meta charset=utf-8><title>503: the dev server is not running"
        f"</title></head><body><pre>{escape(outage.page())}</pre>"
        f"{script_tag(boot=STANDIN_BOOT).decode()}</body></html>\n"
    ).encode()


def _head(status: str, headers: tuple[tuple[str, str], ...], length: int | None) -> bytes:
    lines = [f"HTTP/1.1 {status}", *(f"{k}: {v}" for k, v in headers)]
    if length is not None:
        lines.append(f"Content-Length: {length}")
    if not any(key.lower() == "cache-control" for key, _ in headers):
        lines.append("Cache-Control: no-store")
    lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def _body(method: str, body: bytes) -> bytes:
    return b"" if method == "HEAD" else body
