"""A real headless Chromium for tests, driven by Selenium through Debian's chromedriver.

:class:`Browser` starts ``chromedriver`` and, through it, Chromium with a private
profile in a temporary folder (``--no-sandbox``: CI runs as root), offers bounded
waits on what a page shows, and at :meth:`Browser.stop` quits the session, then
kills by pid whatever of chromedriver and its descendants is still running. The
``browser`` fixture gives one per test.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from selenium import webdriver
from selenium.common.exceptions import JavascriptException, WebDriverException
from selenium.webdriver.chrome.service import Service

from tests.process_stats import live_descendants

WAIT_TIMEOUT = 30.0
"""Seconds a page may take to show what a test waits for."""

POLL_INTERVAL = 0.02

T = TypeVar("T")


def chromium_binary() -> str:
    """Debian's Chromium itself (not its shell launcher), else whatever ``chromium`` is."""
    real = Path("/usr/lib/chromium/chromium")
    if real.exists():
        return str(real)
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    assert found, "Chromium is not installed: scripts/setup.sh --test installs it"
    return found


def chromedriver_binary() -> str:
    """Debian's chromedriver."""
    found = shutil.which("chromedriver") or "/usr/lib/chromium/chromedriver"
    assert Path(found).exists(), (
        "chromedriver is not installed: scripts/setup.sh --test installs it"
    )
    return found


class Browser:
    """One headless Chromium session; :meth:`stop` leaves nothing running."""

    def __init__(self, profile: Path, log_path: Path) -> None:
        options = webdriver.ChromeOptions()
        options.binary_location = chromium_binary()
        for argument in (
            "--headless=new",
            "--no-sandbox",
            "--disable-dev-shm-usage",
            "--disable-gpu",
            "--no-first-run",
            "--no-default-browser-check",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-breakpad",
            "--disable-crash-reporter",
            "--window-size=1024,768",
            f"--user-data-dir={profile}",
        ):
            options.add_argument(argument)
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        self.service = Service(executable_path=chromedriver_binary(), log_output=str(log_path))
        self.driver = webdriver.Chrome(options=options, service=self.service)
        self.driver.set_page_load_timeout(WAIT_TIMEOUT)
        self.driver.set_script_timeout(WAIT_TIMEOUT)

    def open(self, url: str) -> None:
        """Load ``url`` in the current tab (waits for the load)."""
        self.driver.get(url)

    def new_tab(self, url: str) -> str:
        """Open ``url`` in a new tab, which becomes the current one; return its handle."""
        self.driver.switch_to.new_window("tab")
        self.driver.get(url)
        return str(self.driver.current_window_handle)

    def switch_to(self, handle: str) -> None:
        """Make the tab ``handle`` the current one."""
        self.driver.switch_to.window(handle)

    def run(self, script: str, *args: Any) -> Any:
        """Run JavaScript in the current page; None while the page is being replaced."""
        try:
            return self.driver.execute_script(script, *args)
        except JavascriptException:
            return None

    def text(self) -> str:
        """The current page's visible text ("" while it loads)."""
        return str(self.run("return document.body ? document.body.innerText : ''") or "")

    def wait_for(
        self, what: str, probe: Callable[[], T | None], timeout: float = WAIT_TIMEOUT
    ) -> T:
        """Call ``probe`` until it returns something truthy; return it, or fail after ``timeout``."""
        deadline = time.monotonic() + timeout
        last: T | None = None
        while time.monotonic() < deadline:
            try:
                last = probe()
            except WebDriverException:
                last = None  # the page is being replaced
            if last:
                return last
            time.sleep(POLL_INTERVAL)
        raise AssertionError(
            f"the page did not show {what} within {timeout} s; it shows:\n{self.text()!r}\n"
            f"console:\n{self.console()}"
        )

    def wait_for_text(self, text: str, timeout: float = WAIT_TIMEOUT) -> str:
        """Wait until the page's text holds ``text``; return the page's text."""

        def probe() -> str | None:
            page = self.text()
            return page if text in page else None

        return self.wait_for(repr(text), probe, timeout)

    def mark(self) -> None:
        """Set a marker on ``window``: it survives anything but a navigation."""
        self.run("window.__reloadd_test_marker = 'kept'")

    def marked(self) -> bool:
        """Whether the marker of :meth:`mark` is still there (no navigation since)."""
        return bool(self.run("return window.__reloadd_test_marker || null") == "kept")

    def connected(self) -> bool:
        """Whether the page's refresh script has its server's ``hello``."""
        return bool(self.run("return !!(window.__reloadd && window.__reloadd.connected)"))

    def console(self) -> str:
        """The browser's console messages so far (drained)."""
        try:
            entries: list[dict[str, Any]] = self.driver.get_log("browser")  # type: ignore[no-untyped-call]
        except WebDriverException:
            return "(unavailable)"
        return "\n".join(f"{e.get('level')}: {e.get('message')}" for e in entries)

    def stop(self) -> None:
        """Quit the session; kill chromedriver and Chromium's processes that remain, by pid."""
        process = getattr(self.service, "process", None)
        pids = live_descendants(process.pid) if process is not None else []
        try:
            self.driver.quit()
        except WebDriverException:
            pass  # killed below
        if process is not None:
            pids.append(process.pid)
            pids += live_descendants(process.pid)
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if process is not None:
            with contextlib.suppress(OSError, subprocess.TimeoutExpired):
                process.wait(10)  # usually reaped by selenium already


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Browser]:
    """A headless Chromium with a private profile under ``tmp_path``; stopped after the test."""
    profile = tmp_path / "chromium-profile"
    profile.mkdir()
    started = Browser(profile, tmp_path / "chromedriver.log")
    try:
        yield started
    finally:
        started.stop()
