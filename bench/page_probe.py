"""What the page shows and when, recorded inside the page, on the bench's clock.

A script added to every new document of the tab (DevTools'
``Page.addScriptToEvaluateOnNewDocument``) appends to a log in ``sessionStorage``,
which survives the page's reloads:

* ``document``: a new document started (its ``performance.timeOrigin``), with its URL;
* ``text``: an element with ``data-bench="NAME"`` got a new text, and when;
* ``color``: the computed colour of ``#template-text`` changed, and when;
* ``leave``: the document is being left (``pagehide``), and when.

Texts are checked on every DOM mutation (a ``MutationObserver`` from the start of the
document, so the text of a reloaded page is seen while it is parsed), colours on every
mutation, every ``load`` of a resource (a new stylesheet) and every animation frame.
Times are ``performance.timeOrigin + performance.now()`` in ms. :func:`clock_offset`
relates that clock to the bench's ``time.time()`` by a few round trips, taking the
one with the shortest round trip (its error is at most half of it), so the time of a
file write is put on the page's clock and no WebDriver round trip is in a timing.

:class:`PageLog` keeps every entry read, as ``sessionStorage`` starts afresh when the
tab visited Chromium's error page. Documents committed (:func:`committed`, error pages
included) and failed navigations come from DevTools events (:func:`failures`): a document request
that failed (``Network.loadingFailed``, e.g. ``net::ERR_CONNECTION_REFUSED``), a
document answered with an error status, and a frame that navigated to Chromium's
error page (``chrome-error://``).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from bench.chromium import Chromium

KEY = "reloaddBench"

RECORDER = """
(() => {
  const KEY = "__KEY__";
  const now = () => performance.timeOrigin + performance.now();
  const log = (entry) => {
    const all = JSON.parse(sessionStorage.getItem(KEY) || "[]");
    all.push(entry);
    sessionStorage.setItem(KEY, JSON.stringify(all));
  };
  log({kind: "document", at: performance.timeOrigin, value: location.href});
  const texts = {};
  let color = null;
  const check = () => {
    for (const el of document.querySelectorAll("[data-bench]")) {
      const name = el.dataset.bench;
      const text = el.textContent;
      if (texts[name] !== text) {
        texts[name] = text;
        log({kind: "text", name, value: text, at: now()});
      }
    }
    const styled = document.getElementById("template-text");
    if (styled) {
      const value = getComputedStyle(styled).color;
      if (value !== color) {
        color = value;
        log({kind: "color", value, at: now()});
      }
    }
  };
  new MutationObserver(check).observe(document, {subtree: true, childList: true, characterData: true});
  document.addEventListener("load", check, true);
  addEventListener("pagehide", () => log({kind: "leave", at: now(), value: location.href}));
  const frame = () => { check(); requestAnimationFrame(frame); };
  requestAnimationFrame(frame);
})();
""".replace("__KEY__", KEY)

SLOW_POLL = 0.025
"""Seconds between two reads of the page's log while waiting (not part of any timing)."""


@dataclass(frozen=True)
class Entry:
    """One line of the page's log."""

    kind: str
    at: float
    """ms on the page's clock."""
    value: str
    name: str = ""


def install(chromium: Chromium) -> None:
    """Have every new document of the tab run the recorder."""
    chromium.cdp("Page.enable")
    chromium.cdp("Page.addScriptToEvaluateOnNewDocument", source=RECORDER)


def entries(chromium: Chromium) -> list[Entry]:
    """The page's log so far (empty while the tab shows another origin's page)."""
    raw = chromium.driver.execute_script(f"return sessionStorage.getItem({KEY!r}) || '[]'")
    return [
        Entry(item["kind"], float(item["at"]), str(item["value"]), str(item.get("name", "")))
        for item in json.loads(raw)
    ]


def clock_offset(chromium: Chromium, tries: int = 5) -> float:
    """The page's clock minus ``time.time()``, in ms."""
    best: tuple[float, float] | None = None
    for _ in range(tries):
        before = time.time()
        page = float(
            chromium.driver.execute_script("return performance.timeOrigin + performance.now()")
        )
        after = time.time()
        rtt = after - before
        offset = page - (before + after) / 2 * 1000
        if best is None or rtt < best[0]:
            best = (rtt, offset)
    assert best is not None
    return best[1]


class PageLog:
    """Every entry the page's log has shown so far.

    The page's ``sessionStorage`` may start afresh (after the tab visited Chromium's
    error page, another origin); entries read before are kept here.
    """

    def __init__(self, chromium: Chromium) -> None:
        self.chromium = chromium
        self._seen: dict[tuple[str, float, str, str], Entry] = {}

    def read(self) -> list[Entry]:
        """Merge the page's current log in; return every entry, oldest first."""
        for entry in entries(self.chromium):
            self._seen.setdefault((entry.kind, entry.at, entry.value, entry.name), entry)
        return sorted(self._seen.values(), key=lambda e: e.at)

    def read_quietly(self) -> list[Entry]:
        """:meth:`read`, or what was read before while the tab cannot run a script."""
        from selenium.common.exceptions import WebDriverException

        try:
            return self.read()
        except WebDriverException:
            return sorted(self._seen.values(), key=lambda e: e.at)

    def wait_for(
        self, found: Callable[[list[Entry]], Entry | None], timeout: float
    ) -> Entry | None:
        """Read the log until ``found`` picks an entry; None after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            entry = found(self.read_quietly())
            if entry is not None:
                return entry
            time.sleep(SLOW_POLL)
        return None


def committed(events: Iterable[dict[str, Any]]) -> int:
    """Documents the tab's main frame committed among DevTools ``events`` (error pages too)."""
    return sum(
        1
        for event in events
        if event.get("method") == "Page.frameNavigated"
        and "parentId" not in event.get("params", {}).get("frame", {})
    )


@dataclass(frozen=True)
class Failures:
    """Navigations that failed, from DevTools events."""

    refused: int = 0
    """Document requests that failed (refused, reset, empty answer)."""
    error_status: int = 0
    """Documents answered with a status of 500 or more."""
    error_pages: int = 0
    """Navigations that ended on Chromium's error page."""
    event_streams_failed: int = 0
    """``EventSource`` requests of the page itself that failed (its reconnects)."""
    reasons: tuple[str, ...] = ()

    @property
    def landed(self) -> int:
        """Error pages the page landed on: a refused document or a 5xx answer."""
        return max(self.refused, self.error_pages) + self.error_status


def failures(events: Iterable[dict[str, Any]]) -> Failures:
    """Count the failed navigations among DevTools ``events``."""
    refused = error_status = error_pages = streams = 0
    reasons: list[str] = []
    for event in events:
        method, params = event.get("method"), event.get("params", {})
        if method == "Network.loadingFailed" and not params.get("canceled"):
            if params.get("type") == "Document":
                refused += 1
                reasons.append(str(params.get("errorText")))
            elif params.get("type") == "EventSource":
                streams += 1
        elif method == "Network.responseReceived" and params.get("type") == "Document":
            status = int(params.get("response", {}).get("status", 0))
            if status >= 500:
                error_status += 1
                reasons.append(f"HTTP {status}")
        elif method == "Page.frameNavigated" and str(
            params.get("frame", {}).get("url", "")
        ).startswith("chrome-error:"):
            error_pages += 1
    return Failures(refused, error_status, error_pages, streams, tuple(reasons))


_TRACED = {
    "Network.requestWillBeSent",
    "Network.responseReceived",
    "Network.loadingFailed",
    "Page.frameNavigated",
    "Page.frameRequestedNavigation",
}


def navigation_events(events: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The document and event-stream requests among ``events``, in brief (for a trace file)."""
    brief = []
    for event in events:
        method, params = event.get("method"), event.get("params", {})
        if method not in _TRACED:
            continue
        kind = params.get("type")
        if method == "Page.frameNavigated":
            brief.append({"method": method, "url": params.get("frame", {}).get("url")})
        elif method == "Page.frameRequestedNavigation":
            brief.append({"method": method, "reason": params.get("reason")})
        elif kind in ("Document", "EventSource"):
            brief.append(
                {
                    "method": method,
                    "type": kind,
                    "time": params.get("timestamp"),
                    "url": params.get("request", params.get("response", {})).get("url"),
                    "status": params.get("response", {}).get("status"),
                    "error": params.get("errorText"),
                    "initiator": params.get("initiator", {}).get("type"),
                }
            )
    return brief
