"""What the network-endpoint tests share: keys, a daemon that listens, a client process that reports.

A :class:`NetworkDaemon` is a :class:`~tests.daemon_process.DaemonProcess` with ``--listen``
(and, optionally, started inside a network namespace); it is still reached on its local
``ipc://`` endpoint to know that it runs. A :class:`ClientProcess` runs
``remote_client.py`` with nothing but environment variables, and hands its JSON lines to
the test through a queue, each awaited with a deadline.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from reloadd.daemon import keys
from tests.daemon_process import DaemonProcess

CLIENT_SCRIPT = Path(__file__).with_name("remote_client.py")
REPO = Path(__file__).resolve().parents[2]
STOP_TIMEOUT = 10.0


@dataclass
class Keys:
    """The daemon's public key file, an allowed client's secret, and a refused one's."""

    server: Path
    allowed: Path
    refused: Path


def make_keys(folder: Path) -> Keys:
    """Create the server pair, allow client ``web``, and make an ``intruder`` that is not allowed."""
    keys.server_keys()
    _, allowed = keys.new_client("web", folder)
    _, refused = keys.new_client("intruder", folder)
    keys.revoke("intruder")
    return Keys(server=keys.config_dir() / "server.key", allowed=allowed, refused=refused)


def remote_environment(
    address: str, server_key: Path | str, client_key: Path, path_map: str
) -> dict[str, str]:
    """The four variables a remote dev server needs."""
    return {
        "RELOADD_ENDPOINT": address,
        "RELOADD_SERVER_KEY": str(server_key),
        "RELOADD_CLIENT_KEY": str(client_key),
        "RELOADD_PATH_MAP": path_map,
    }


class NetworkDaemon(DaemonProcess):
    """``reloadd serve --listen ADDRESS [--grace G]``, inside ``prefix`` (``ip netns exec NS``)."""

    def __init__(
        self,
        root: Path,
        *,
        listen: str,
        log_path: Path,
        prefix: list[str] | None = None,
        grace: float | None = None,
    ) -> None:
        super().__init__(root, backend="builtin", log_path=log_path)
        self.listen = listen
        self.prefix = prefix or []
        self.grace = grace

    def command(self) -> list[str]:
        """The daemon's command line, with ``--listen`` and inside the prefix."""
        grace = ["--grace", str(self.grace)] if self.grace is not None else []
        return [*self.prefix, *super().command(), "--listen", self.listen, *grace]


class ClientProcess:
    """``remote_client.py ROOT FILE…`` with an environment; its JSON lines in a queue."""

    def __init__(self, argv: list[str], env: dict[str, str], log_path: Path) -> None:
        self.log_path = log_path
        self.lines: queue.Queue[dict[str, Any]] = queue.Queue()
        self.seen: list[dict[str, Any]] = []
        with open(log_path, "ab") as stderr:
            self.process = subprocess.Popen(
                argv,
                env={**os.environ, "PYTHONPATH": str(REPO), **env},
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=stderr,
            )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    @classmethod
    def start(
        cls,
        root: Path,
        files: list[str],
        env: dict[str, str],
        log_path: Path,
        prefix: list[str] | None = None,
    ) -> ClientProcess:
        """Start the client script (inside ``prefix``, if given)."""
        argv = [*(prefix or []), sys.executable, str(CLIENT_SCRIPT), str(root), *files]
        return cls(argv, env, log_path)

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(json.loads(line))

    def expect(
        self, wanted: Callable[[dict[str, Any]], bool], what: str, timeout: float = 30.0
    ) -> dict[str, Any]:
        """The first line (from now on) that ``wanted`` accepts; fail after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            try:
                line = self.lines.get(timeout=max(0.0, left))
            except queue.Empty:
                pytest.fail(
                    f"the client never reported {what}; it said {self.seen}:\n{self.stderr()}"
                )
            self.seen.append(line)
            if wanted(line):
                return line

    def stderr(self) -> str:
        """What the client wrote on stderr."""
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after a while; by pid."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(STOP_TIMEOUT)
        if self.process.stdout is not None:
            self.process.stdout.close()


@pytest.fixture
def client_processes() -> Iterator[list[ClientProcess]]:
    """A list for the test's client processes; each is stopped afterwards."""
    started: list[ClientProcess] = []
    yield started
    for client in started:
        client.stop()
