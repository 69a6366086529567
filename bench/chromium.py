"""Headless Chromium driven through Selenium, started and stopped by PID.

:class:`Chromium` starts Debian's ``chromedriver`` itself (in a session of its own, so
the browser it launches and every helper process of the browser are in its process
group), connects Selenium to it, and runs Chromium headless with a private profile in
a temp folder (``--no-sandbox`` when run as root, as Chromium refuses its sandbox
then). :meth:`Chromium.close` quits the session, then stops the browser's process and
chromedriver by their PIDs and the rest of the group, whatever state they are in: the
bench's SIGINT/SIGTERM handler raises ``SystemExit``, so the ``with`` block's exit does
it on a signal too. Selenium's own driver manager is never used (it would download a
driver); the binaries come from Debian's ``chromium`` and ``chromium-driver``.

Chromium's performance log is on: :meth:`Chromium.cdp_events` returns the DevTools
events (``Network.*``, ``Page.*``) the page produced since the last call, which is how
the bench counts the navigations that failed.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

log = logging.getLogger("bench")

STOP_TIMEOUT = 10.0
"""Seconds each stop step (quit, SIGTERM, SIGKILL) may take."""

START_TIMEOUT = 30.0
"""Seconds chromedriver may take to answer its status request."""

BROWSERS = ("/usr/lib/chromium/chromium", "chromium", "chromium-browser")
"""Where Debian's Chromium is: the binary itself first (``/usr/bin/chromium`` is a
shell wrapper that runs it as a child and adds the flags of ``/etc/chromium.d``)."""

DRIVERS = ("chromedriver", "/usr/lib/chromium/chromedriver")


class ChromiumMissing(RuntimeError):
    """Chromium or chromedriver is not installed."""


def _find(candidates: tuple[str, ...], package: str) -> str:
    for candidate in candidates:
        found = shutil.which(candidate)
        if found:
            return found
    raise ChromiumMissing(f"{candidates[0]} not found: install Debian's {package} package")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _children(pid: int) -> list[int]:
    """The PIDs whose parent is ``pid`` (from ``/proc``)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # The command name (2nd field) is in brackets and may hold spaces.
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[1]) == pid:
            found.append(int(entry.name))
    return found


def _gone(pid: int) -> bool:
    """Whether ``pid`` has exited (a zombie not yet reaped by its parent counts as exited)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] == "Z"


def _wait_gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _gone(pid):
            return True
        time.sleep(0.02)
    return False


class Chromium:
    """One headless Chromium with one tab; use as a context manager."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.profile = Path(tempfile.mkdtemp(prefix="chromium-profile-", dir=log_dir.parent))
        self.browser = _find(BROWSERS, "chromium")
        self.driver_path = _find(DRIVERS, "chromium-driver")
        self.port = _free_port()
        self.service: subprocess.Popen[bytes] | None = None
        self.browser_pid: int | None = None
        self._driver: Any = None

    def __enter__(self) -> Chromium:
        try:
            return self.start()
        except BaseException:
            self.close()
            raise

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def driver(self) -> Any:
        """The Selenium ``WebDriver`` (selenium's own types are not relied on here)."""
        if self._driver is None:
            raise RuntimeError("Chromium is not started")
        return self._driver

    def start(self) -> Chromium:
        """Start chromedriver, then a headless Chromium session through it."""
        from selenium import webdriver

        with open(self.log_dir / "chromedriver.log", "ab") as log:
            self.service = subprocess.Popen(
                [self.driver_path, f"--port={self.port}", "--allowed-ips=127.0.0.1"],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self._wait_driver_ready()
        options = webdriver.ChromeOptions()
        options.binary_location = self.browser
        for arg in (
            "--headless=new",
            f"--user-data-dir={self.profile}",
            "--no-first-run",
            "--no-default-browser-check",
            "--no-proxy-server",
            "--disable-background-networking",
            "--disable-background-timer-throttling",
            "--disable-renderer-backgrounding",
            "--disable-backgrounding-occluded-windows",
            "--disable-dev-shm-usage",
            "--disable-gpu",
            "--window-size=1024,768",
        ):
            options.add_argument(arg)
        if os.geteuid() == 0:
            options.add_argument("--no-sandbox")
        options.set_capability("goog:loggingPrefs", {"performance": "ALL", "browser": "ALL"})
        options.set_capability("pageLoadStrategy", "normal")
        before = set(_children(self.service.pid))
        from selenium.webdriver.chromium.remote_connection import ChromiumRemoteConnection

        connection = ChromiumRemoteConnection(
            f"http://127.0.0.1:{self.port}", "goog", "chrome", ignore_proxy=True
        )
        self._driver = webdriver.Remote(command_executor=connection, options=options)
        started = [pid for pid in _children(self.service.pid) if pid not in before]
        self.browser_pid = started[0] if started else None
        self._driver.set_page_load_timeout(60)
        self._driver.set_script_timeout(30)
        return self

    def _wait_driver_ready(self) -> None:
        assert self.service is not None
        deadline = time.monotonic() + START_TIMEOUT
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        while time.monotonic() < deadline:
            if self.service.poll() is not None:
                raise RuntimeError(
                    f"chromedriver exited with {self.service.returncode} "
                    f"(log: {self.log_dir / 'chromedriver.log'})"
                )
            try:
                with opener.open(f"http://127.0.0.1:{self.port}/status", timeout=2) as answer:
                    if json.loads(answer.read())["value"]["ready"]:
                        return
            except (OSError, ValueError, KeyError):
                pass
            time.sleep(0.05)
        raise RuntimeError(f"chromedriver did not answer within {START_TIMEOUT} s")

    def cdp_events(self) -> list[dict[str, Any]]:
        """The DevTools events logged since the last call, oldest first."""
        events = []
        for entry in self._log("performance"):
            message = json.loads(entry["message"])["message"]
            events.append(message)
        return events

    def console(self) -> list[str]:
        """The page's console messages since the last call."""
        return [str(entry.get("message", "")) for entry in self._log("browser")]

    def _log(self, kind: str) -> list[dict[str, Any]]:
        entries: list[dict[str, Any]] = self.driver.execute("getLog", {"type": kind})["value"]
        return entries

    def cdp(self, command: str, **params: Any) -> dict[str, Any]:
        """Run one DevTools command in the tab; return its result."""
        result: dict[str, Any] = self.driver.execute(
            "executeCdpCommand", {"cmd": command, "params": params}
        )["value"]
        return result

    def close(self) -> None:
        """Quit the session; stop the browser and chromedriver by PID; remove the profile."""
        driver, self._driver = self._driver, None
        if driver is not None:
            try:
                driver.quit()
            except Exception as exc:  # noqa: BLE001 - the processes are stopped by PID below
                log.warning("Chromium: quitting the session failed (%s); stopping it by PID", exc)
        if self.service is not None:
            for pid in (self.browser_pid, self.service.pid):
                if pid is not None:
                    self._stop_pid(pid)
            # Renderers, zygotes and the crash handler are in chromedriver's session.
            try:
                os.killpg(self.service.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            try:
                self.service.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                pass
            self.service = None
        shutil.rmtree(self.profile, ignore_errors=True)

    @staticmethod
    def _stop_pid(pid: int) -> None:
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                return
            if _wait_gone(pid, STOP_TIMEOUT):
                return
