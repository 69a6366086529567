"""A dev server as a real process for the end-to-end measures: started, polled, stopped.

:class:`AppServer` runs one command (``uvicorn --reload``, ``reloadd run -- flask ...``)
in its own session, logging into the bench's folder; :meth:`AppServer.wait_for` polls
its page every 10 ms until the body holds a text; :meth:`AppServer.stop` ends its
process group, and the group of every process below it that started one of its own
(``reloadd run`` puts its child in a new session), by PID.
"""

from __future__ import annotations

import http.client
import os
import re
import signal
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from bench.procinfo import descendants

START_TIMEOUT = 60.0
"""Seconds a server may take to serve its first page (the first start compiles bytecode)."""

RELOAD_TIMEOUT = 30.0
"""Seconds an edit may take to be served."""

STOP_TIMEOUT = 10.0

POLL_INTERVAL = 0.01
"""Seconds between two requests while waiting for a page."""

PAUSE = 1.0
"""Shortest pause between two edits, in seconds; the pause is drawn between it and
twice it, so that no polling period (StatReloader's and werkzeug's 1 s) lines up with
the edits."""


def get(host: str, port: int, path: str = "/", timeout: float = 5.0) -> tuple[int, str] | None:
    """``(status, body)`` of a GET on a new connection, None if nothing answers."""
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, response.read().decode(errors="replace")
    except (OSError, http.client.HTTPException):  # refused, reset, cut short by a restart
        return None
    finally:
        conn.close()


class AppServer:
    """``argv`` run in ``cwd`` in a session of its own, serving on ``port``."""

    def __init__(
        self,
        argv: Sequence[str],
        *,
        cwd: Path,
        port: int,
        env: Mapping[str, str],
        log_path: Path,
        host: str = "127.0.0.1",
    ) -> None:
        self.argv = list(argv)
        self.cwd = cwd
        self.port = port
        self.host = host
        self.env = dict(env)
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        """The PID of the command itself (the supervisor, or the reloader's parent)."""
        assert self.process is not None
        return self.process.pid

    def __enter__(self) -> AppServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def start(self) -> AppServer:
        """Start the command (do not wait for it)."""
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                self.argv,
                cwd=self.cwd,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return self

    def log(self) -> str:
        """What it printed so far."""
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def wait_for(
        self, accept: Callable[[str], bool], timeout: float = RELOAD_TIMEOUT, path: str = "/"
    ) -> str:
        """Poll ``path`` until a 200 answer whose body ``accept`` takes; return the body."""
        assert self.process is not None
        deadline = time.monotonic() + timeout
        last: tuple[int, str] | None = None
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"{self.argv[0]} exited with {self.process.returncode}: {self.log()[-3000:]}"
                )
            last = get(self.host, self.port, path)
            if last is not None and last[0] == 200 and accept(last[1]):
                return last[1]
            time.sleep(POLL_INTERVAL)
        raise RuntimeError(
            f"{' '.join(self.argv)} did not serve the expected page in {timeout} s "
            f"(last: {last!r}); log: {self.log()[-3000:]}"
        )

    def serving_pid(self, body: str) -> int | None:
        """The ``pid=N`` a page of the bench's apps shows: the process that answered."""
        found = re.search(r"pid=(\d+)", body)
        return int(found.group(1)) if found else None

    def stop(self) -> None:
        """SIGTERM its group and the groups below it, then SIGKILL what is left; wait for it."""
        process = self.process
        if process is None:
            return
        groups = {process.pid}
        for pid in descendants(process.pid):
            try:
                groups.add(os.getpgid(pid))
            except ProcessLookupError:
                continue
        for sig in (signal.SIGTERM, signal.SIGKILL):
            for group in groups:
                try:
                    os.killpg(group, sig)
                except (ProcessLookupError, PermissionError):
                    continue
            try:
                process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                continue
            if not any(_group_alive(group) for group in groups):
                break
            time.sleep(0.2)
        if process.poll() is None:
            process.wait(STOP_TIMEOUT)
        self.process = None


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
