"""The daemon's side of ``sd_notify(3)``, against a notify socket the test makes.

A real ``reloadd serve`` process is given ``$NOTIFY_SOCKET`` (and
``$WATCHDOG_USEC``) as systemd would; the test reads what it sends.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from reloadd.client import Client, Role
from tests.daemon_process import START_TIMEOUT, STOP_TIMEOUT, DaemonProcess
from tests.integration.helpers import NOTIFY_TIMEOUT

WATCHDOG_USEC = 1_000_000
"""The watchdog the test sets: the daemon must ping at least every 0.5 s."""

WINDOW = 3.0
"""Seconds over which the watchdog pings are counted."""


class NotifySocket:
    """A datagram socket standing in for systemd's, collecting what the daemon sends."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.received: list[tuple[float, dict[str, str]]] = []
        """Each datagram as (monotonic time received, its assignments)."""

    def receive(self, timeout: float) -> dict[str, str] | None:
        """The next datagram's assignments; None if none comes in time."""
        self.sock.settimeout(timeout)
        try:
            data = self.sock.recv(65536)
        except TimeoutError:
            return None
        fields = dict(line.partition("=")[::2] for line in data.decode().splitlines())
        self.received.append((time.monotonic(), fields))
        return fields

    def wait_for(
        self, name: str, value: str | None = None, timeout: float = NOTIFY_TIMEOUT
    ) -> dict[str, str]:
        """Read datagrams until one assigns ``name`` (``value`` if given); fail on the deadline."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            fields = self.receive(max(0.01, deadline - time.monotonic()))
            if fields is not None and name in fields and value in (None, fields[name]):
                return fields
        seen = [fields for _, fields in self.received]
        pytest.fail(f"no {name}={value or '...'} within {timeout} s; received {seen}")

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def notify_socket() -> Iterator[NotifySocket]:
    """A notify socket in the test's private runtime folder (a short path)."""
    listener = NotifySocket(Path(os.environ["XDG_RUNTIME_DIR"]) / "notify.sock")
    yield listener
    listener.close()


def start_under_notify(
    project: Path,
    tmp_path: Path,
    notify: NotifySocket,
    factory: list[DaemonProcess],
    implementation: str,
) -> DaemonProcess:
    """Start ``reloadd serve`` with systemd's variables set, without waiting for it.

    ``implementation``: ``"libsystemd"`` (the reloadd[systemd] extra, installed for the
    tests) or ``"built-in"``, for which the extra is hidden from the daemon by a package
    of the same name that cannot be imported.
    """
    daemon = DaemonProcess(project, backend="builtin", log_path=tmp_path / "daemon.log")
    factory.append(daemon)
    env = dict(os.environ, NOTIFY_SOCKET=str(notify.path), WATCHDOG_USEC=str(WATCHDOG_USEC))
    if implementation == "built-in":
        shadow = tmp_path / "shadow" / "systemd"
        shadow.mkdir(parents=True)
        (shadow / "__init__.py").write_text("raise ImportError('hidden by the test')\n")
        env["PYTHONPATH"] = str(shadow.parent)
    with open(daemon.log_path, "ab") as log:
        if implementation == "built-in":
            # As systemd says "your stderr is the journal" (the extra's handler would need
            # a real journald; without it, each line carries its syslog priority).
            info = os.fstat(log.fileno())
            env["JOURNAL_STREAM"] = f"{info.st_dev}:{info.st_ino}"
        daemon.process = subprocess.Popen(
            daemon.command(),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
        )
    return daemon


@pytest.mark.parametrize("implementation", ["libsystemd", "built-in"])
def test_notify_protocol_ready_status_watchdog_stopping(
    implementation: str,
    project: Path,
    tmp_path: Path,
    notify_socket: NotifySocket,
    daemon_factory: list[DaemonProcess],
) -> None:
    daemon = start_under_notify(project, tmp_path, notify_socket, daemon_factory, implementation)

    ready = notify_socket.wait_for("READY", "1", timeout=START_TIMEOUT)
    # Ready means bound and watching: a client is answered at once, with no retry.
    with Client(project, name="probe", role=Role.TOOL, spawn=False, handshake_timeout=5):
        pass
    assert ready["STATUS"] == "0 dev servers, 0 files; no change yet", ready

    module = project / "app.py"
    module.write_text("x = 1\n")
    with Client(project, name="dev server") as client:
        client.watch(files=[module])
        status = notify_socket.wait_for("STATUS")
        while status["STATUS"] != "1 dev server, 1 file; no change yet":
            status = notify_socket.wait_for("STATUS")
        module.write_text("x = 2\n")
        assert client.wait(timeout=NOTIFY_TIMEOUT) == [module]
        while status["STATUS"] != "1 dev server, 1 file; last change just now":
            status = notify_socket.wait_for("STATUS")

        # The watchdog: counted over a window, while a client is connected and pinging.
        start = time.monotonic()
        while time.monotonic() - start < WINDOW:
            notify_socket.receive(max(0.01, WINDOW - (time.monotonic() - start)))
        end = time.monotonic()
        pings = [at for at, fields in notify_socket.received if fields.get("WATCHDOG") == "1"]
        in_window = [at for at in pings if start <= at <= end]
        period = WATCHDOG_USEC / 2 / 1e6
        assert len(in_window) >= (end - start) / period - 1, pings
        assert len(in_window) <= 2 * (end - start) / period + 1, "pinging far too often"

    assert daemon.process is not None
    daemon.process.send_signal(signal.SIGTERM)
    notify_socket.wait_for("STOPPING", "1")
    assert daemon.process.wait(STOP_TIMEOUT) == 0
    assert "received SIGTERM" in daemon.log()
    assert f"told systemd it is ready ({implementation} notify)" in daemon.log()
    if implementation == "built-in":
        assert "\n<6>told systemd it is ready (built-in notify)" in daemon.log()


def test_no_notify_socket_no_systemd_talk(
    project: Path, tmp_path: Path, daemon_factory: list[DaemonProcess]
) -> None:
    """Outside systemd the daemon neither notifies nor says it did."""
    daemon = DaemonProcess(project, backend="builtin", log_path=tmp_path / "daemon.log")
    daemon_factory.append(daemon)
    daemon.start()
    assert daemon.stop() == 0
    assert "systemd" not in daemon.log()
