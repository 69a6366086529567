"""Whether and where the refresh script goes into a response: pure functions, no I/O.

Every middleware (Django's, WSGI's, ASGI's) asks :func:`decide` with the response's
status and headers, and, when told to inject, calls :func:`inject` on the whole body
and :func:`fixed_headers` on the headers. The rules:

* only an HTML document (``Content-Type: text/html``) with a body (not ``HEAD``-like
  statuses 1xx, 204, 304), not encoded (``Content-Encoding`` other than ``identity``:
  gzip'ed bytes are left alone), of a known, bounded length (``Content-Length``, at most
  :data:`MAX_INJECT_BYTES`): a streamed response has none, and is never held back;
* not a page whose ``Content-Security-Policy`` refuses a same-origin script or
  connection (:func:`csp_verdict`); a policy with a nonce gets the tag with that nonce;
* the tag goes before the last ``</body>``, else before the last ``</head>``, else at
  the end; ``Content-Length`` is fixed up.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from html import escape

PREFIX = "/__reloadd__/"
"""The path prefix reserved for reloadd in every app the middleware wraps."""

EVENTS_PATH = PREFIX + "events"
"""The page's event stream (``text/event-stream``)."""

SCRIPT_PATH = PREFIX + "reload.js"
"""The refresh script."""

MAX_INJECT_BYTES = 16 * 1024 * 1024
"""Largest HTML body the script is injected into; a larger page is passed on untouched."""

_NO_BODY_STATUSES = frozenset({204, 205, 304})


@dataclass(frozen=True)
class Decision:
    """What to do with one response."""

    inject: bool
    """Put the script tag into the body."""
    nonce: str = ""
    """The nonce the tag must carry (from the page's ``Content-Security-Policy``)."""
    refused: str = ""
    """Why a page that would otherwise get the script does not: its CSP; say it once."""


SKIP = Decision(inject=False)


def header(headers: Iterable[tuple[str, str]], name: str) -> str | None:
    """The first value of header ``name`` (case-insensitive), or None."""
    wanted = name.lower()
    for key, value in headers:
        if key.lower() == wanted:
            return value
    return None


def headers_named(headers: Iterable[tuple[str, str]], name: str) -> list[str]:
    """Every value of header ``name`` (case-insensitive)."""
    wanted = name.lower()
    return [value for key, value in headers if key.lower() == wanted]


def is_html(content_type: str | None) -> bool:
    """Whether a ``Content-Type`` is an HTML document."""
    if not content_type:
        return False
    return content_type.split(";", 1)[0].strip().lower() == "text/html"


def decide(status: int, headers: Sequence[tuple[str, str]], *, streaming: bool = False) -> Decision:
    """Whether the response with ``status`` and ``headers`` gets the script.

    ``streaming`` says the framework knows the body is a stream (Django's
    ``StreamingHttpResponse``); otherwise a missing ``Content-Length`` says so.
    """
    if streaming or status < 200 or status in _NO_BODY_STATUSES:
        return SKIP
    if not is_html(header(headers, "Content-Type")):
        return SKIP
    encoding = (header(headers, "Content-Encoding") or "identity").strip().lower()
    if encoding not in ("", "identity"):
        return SKIP
    length = header(headers, "Content-Length")
    if length is None or not length.strip().isdigit() or int(length) > MAX_INJECT_BYTES:
        return SKIP
    return csp_verdict(headers_named(headers, "Content-Security-Policy"))


def csp_verdict(policies: Sequence[str]) -> Decision:
    """Whether every policy lets the page load a same-origin script and open a same-origin
    event stream; with the nonce to use when a policy allows scripts by nonce only.

    A script is allowed by ``'self'`` or ``*`` (unless ``'strict-dynamic'`` is there) or
    by a ``'nonce-…'``; the stream by ``'self'`` or ``*`` in ``connect-src``. Each falls
    back to ``default-src``; a missing directive allows everything.
    """
    nonce = ""
    for policy in policies:
        directives = parse_csp(policy)
        scripts = directives.get("script-src-elem", directives.get("script-src"))
        if scripts is None:
            scripts = directives.get("default-src")
        if scripts is not None:
            found = _nonce_of(scripts)
            by_origin = not _has(scripts, "'strict-dynamic'") and (
                _has(scripts, "'self'") or "*" in scripts
            )
            if found and not by_origin:
                if nonce and found != nonce:
                    return _refused("script-src", "two policies want different nonces")
                nonce = found
            elif not by_origin:
                return _refused("script-src", _directive("script-src", scripts))
        connects = directives.get("connect-src", directives.get("default-src"))
        if connects is not None and not (_has(connects, "'self'") or "*" in connects):
            return _refused("connect-src", _directive("connect-src", connects))
    return Decision(inject=True, nonce=nonce)


def parse_csp(policy: str) -> dict[str, list[str]]:
    """A ``Content-Security-Policy`` value as ``{directive: [sources]}`` (first one wins)."""
    directives: dict[str, list[str]] = {}
    for part in policy.split(";"):
        words = part.split()
        if words:
            directives.setdefault(words[0].lower(), words[1:])
    return directives


def _directive(name: str, sources: list[str]) -> str:
    return " ".join([name, *sources]) if sources else f"{name} 'none'"


def _has(sources: list[str], keyword: str) -> bool:
    return any(source.lower() == keyword for source in sources)


def _nonce_of(sources: list[str]) -> str:
    for source in sources:
        if source.lower().startswith("'nonce-") and source.endswith("'"):
            return source[len("'nonce-") : -1]
    return ""


def _refused(directive: str, found: str) -> Decision:
    advice = (
        f"this page's Content-Security-Policy ({found}) would refuse reloadd's refresh "
        f"script: add 'self' to {directive} in development (or give script-src a nonce) "
        "to have the page refresh itself"
    )
    return Decision(inject=False, refused=advice)


def script_tag(*, boot: str, nonce: str = "") -> bytes:
    """The ``<script>`` element: the script, and the server process that served the page."""
    nonce_attr = f' nonce="{escape(nonce)}"' if nonce else ""
    return (
        f'<script src="{SCRIPT_PATH}" data-boot="{escape(boot)}"{nonce_attr} defer></script>'
    ).encode()


_BODY_END = re.compile(rb"</body\s*>", re.IGNORECASE)
_HEAD_END = re.compile(rb"</head\s*>", re.IGNORECASE)


def inject(body: bytes, tag: bytes) -> bytes:
    """``body`` with ``tag`` before its last ``</body>``, else its last ``</head>``, else at its end."""
    for pattern in (_BODY_END, _HEAD_END):
        found = list(pattern.finditer(body))
        if found:
            at = found[-1].start()
            return body[:at] + tag + body[at:]
    return body + tag


def fixed_headers(headers: Sequence[tuple[str, str]], length: int) -> list[tuple[str, str]]:
    """``headers`` with ``Content-Length`` set to ``length`` (one such header, in place)."""
    fixed: list[tuple[str, str]] = []
    done = False
    for key, value in headers:
        if key.lower() == "content-length":
            if done:
                continue
            value, done = str(length), True
        fixed.append((key, value))
    if not done:
        fixed.append(("Content-Length", str(length)))
    return fixed
