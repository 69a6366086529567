"""One contender's page in Chromium: the saves made under it, and what the page did after each.

:class:`PageSession` opens the page with the in-page recorder (``bench/page_probe.py``),
makes each edit through :class:`~bench.browser_project.BrowserProject`, waits until the
page's own log shows it, and keeps per edit the time from the write to the moment the
page showed it (both on the page's clock), the documents the tab started until the next
edit, whether a JS marker on ``window`` survived a CSS edit, and the failed navigations
among the DevTools events. A trace of every edit (JSON lines) goes to a file.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from bench import page_probe
from bench.browser_project import BrowserProject, css_color
from bench.chromium import Chromium
from bench.page_probe import Failures

log = logging.getLogger("bench")

SHOW_TIMEOUT = 10.0
"""Seconds the page may take to show an edit before it counts as missed."""

RECOVERY_SETTLE = 3.0
"""Seconds given to a page the bench loaded again after a missed edit, before the next edit."""


@dataclass
class Edit:
    """One save and what the page did after it."""

    kind: str
    """``template``, ``view`` or ``css``."""
    timed: bool
    written_at: float
    """ms on the page's clock."""
    value: str = ""
    shown_ms: float | None = None
    """Write → shown; None when not shown within :data:`SHOW_TIMEOUT`."""
    marker_kept: bool | None = None
    documents: int = 0
    """Documents the tab committed from the write until the next edit began (DevTools'
    ``Page.frameNavigated``; error pages count, the bench's own load after a miss does not)."""
    navigated_ms: float | None = None
    """Write → the first of those documents started (its ``performance.timeOrigin``)."""
    failures: Failures = field(default_factory=Failures)


class PageSession:
    """A contender's page in Chromium, and the edits made under it."""

    def __init__(self, chromium: Chromium, project: BrowserProject, url: str, trace: Path) -> None:
        self.chromium = chromium
        self.project = project
        self.url = url
        self.edits: list[Edit] = []
        self.trace = trace
        """Per edit, what it was and the page's navigations after it (JSON lines)."""
        self.page_log = page_probe.PageLog(chromium)

    def open(self) -> None:
        """Load the page with the recorder; wait until it shows its first text."""
        page_probe.install(self.chromium)
        self.chromium.driver.get(self.url)
        shown = self.page_log.wait_for(_text("template", "template 0"), SHOW_TIMEOUT)
        if shown is None:
            raise RuntimeError(f"{self.url} did not show its page in Chromium")

    def _settle_previous(self) -> None:
        """Give the edit before the DevTools events that came since its write."""
        events = self.chromium.cdp_events()
        self.page_log.read_quietly()
        if self.edits:
            edit = self.edits[-1]
            edit.failures = page_probe.failures(events)
            # The bench's own load of the page after a missed edit is not the tool's.
            edit.documents = page_probe.committed(events) - (1 if edit.shown_ms is None else 0)
            record = {
                "edit": {k: v for k, v in edit.__dict__.items() if k != "failures"},
                "failures": edit.failures.__dict__,
                "navigations": page_probe.navigation_events(events),
            }
            with open(self.trace, "a") as trace:
                trace.write(json.dumps(record, default=str) + "\n")

    def edit(self, kind: str, value: str, timed: bool) -> Edit:
        """Save ``kind`` (template, view, css) with ``value``; wait until the page shows it."""
        self._settle_previous()
        offset = page_probe.clock_offset(self.chromium)
        marker = f"marker {len(self.edits)}"
        if kind == "css":
            self.chromium.driver.execute_script("window.reloaddBenchMarker = arguments[0]", marker)
        written = time.time() * 1000 + offset
        if kind == "template":
            self.project.edit_template(value)
            found = _text("template", value)
        elif kind == "view":
            self.project.edit_view(value)
            found = _text("view", value)
        else:
            self.project.edit_css(int(value))
            found = _color(css_color(int(value)))
        edit = Edit(kind, timed, written, value=value)
        self.edits.append(edit)
        shown = self.page_log.wait_for(found, SHOW_TIMEOUT)
        if shown is None:
            log.warning("browser: %s edit to %r not shown within %s s", kind, value, SHOW_TIMEOUT)
            # Start the next edit from a page that works, its script connected again.
            self.chromium.driver.get(self.url)
            time.sleep(RECOVERY_SETTLE)
            return edit
        edit.shown_ms = shown.at - written
        if kind == "css":
            kept = self.chromium.driver.execute_script("return window.reloaddBenchMarker")
            edit.marker_kept = kept == marker
        return edit

    def finish(self) -> None:
        """Settle the last edit; per edit, when the first document after its write started."""
        self._settle_previous()
        page_log = self.page_log.read_quietly()
        with open(self.trace, "a") as trace:
            trace.write(json.dumps({"page_log": [e.__dict__ for e in page_log]}) + "\n")
        documents = [e.at for e in page_log if e.kind == "document"]
        bounds = [e.written_at for e in self.edits[1:]] + [math.inf]
        for edit, until in zip(self.edits, bounds, strict=True):
            mine = [at for at in documents if edit.written_at <= at < until]
            edit.navigated_ms = min(mine) - edit.written_at if mine else None


def _text(name: str, value: str) -> Callable[[list[page_probe.Entry]], page_probe.Entry | None]:
    def found(entries: list[page_probe.Entry]) -> page_probe.Entry | None:
        return next(
            (e for e in entries if e.kind == "text" and e.name == name and e.value == value), None
        )

    return found


def _color(value: str) -> Callable[[list[page_probe.Entry]], page_probe.Entry | None]:
    def found(entries: list[page_probe.Entry]) -> page_probe.Entry | None:
        return next((e for e in entries if e.kind == "color" and e.value == value), None)

    return found
