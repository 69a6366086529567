"""A real ``reloadd serve`` process for integration tests, stopped by PID afterwards."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest

from reloadd.client import Client, ReloaddError, Role
from reloadd.protocol.endpoint import Endpoint, endpoint_for

START_TIMEOUT = 20.0
STOP_TIMEOUT = 10.0


class DaemonProcess:
    """``reloadd serve --root ROOT`` as a subprocess, its output in a log file."""

    def __init__(
        self,
        root: Path,
        *,
        backend: str,
        log_path: Path,
        watchman_sock: str | None = None,
        preexec_fn: Callable[[], None] | None = None,
        pass_fds: Sequence[int] = (),
    ) -> None:
        """``preexec_fn`` runs in the child before ``exec`` (e.g. to lower a limit);
        ``pass_fds`` are inherited at the same numbers."""
        self.root = root.resolve()
        self.preexec_fn = preexec_fn
        self.pass_fds = tuple(pass_fds)
        self.backend = backend
        self.log_path = log_path
        if backend == "watchman" and not watchman_sock:
            # Without a socket, pywatchman's discovery starts a Watchman server of its own,
            # which outlives the test: tests name their private one (tests/watchman_instance.py).
            raise ValueError("a test's Watchman daemon needs watchman_sock (its private Watchman)")
        self.watchman_sock = watchman_sock
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def endpoint(self) -> Endpoint:
        """Where the daemon listens."""
        return endpoint_for(self.root)

    @property
    def pid(self) -> int:
        """The daemon's pid."""
        assert self.process is not None
        return self.process.pid

    def command(self) -> list[str]:
        """The command line that starts this daemon."""
        command = [sys.executable, "-m", "reloadd.client.cli", "serve", "--root", str(self.root)]
        command += ["--backend", self.backend, "--log-level", "DEBUG"]
        if self.watchman_sock:
            command += ["--watchman-sock", self.watchman_sock]
        return command

    def start(self) -> DaemonProcess:
        """Start the daemon and wait until it answers a handshake."""
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                self.command(),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                preexec_fn=self.preexec_fn,
                pass_fds=self.pass_fds,
            )
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"the daemon exited with {self.process.returncode}:\n{self.log()}")
            if self.endpoint.socket_path.exists():
                try:
                    with Client(self.root, name="test probe", role=Role.TOOL, spawn=False):
                        return self
                except ReloaddError:
                    pass
            time.sleep(0.01)
        self.stop()
        pytest.fail(f"the daemon did not answer within {START_TIMEOUT} s:\n{self.log()}")

    def log(self) -> str:
        """Everything the daemon has logged so far."""
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def wait_for_log(self, text: str, timeout: float = 10.0) -> None:
        """Wait until ``text`` appears in the log."""
        deadline = time.monotonic() + timeout
        while text not in self.log():
            if time.monotonic() > deadline:
                pytest.fail(f"{text!r} did not appear in the daemon log:\n{self.log()}")
            time.sleep(0.01)

    def kill(self) -> None:
        """SIGKILL the daemon (leaving its socket file behind) and reap it."""
        assert self.process is not None
        self.process.kill()
        self.process.wait(STOP_TIMEOUT)

    def stop(self) -> int | None:
        """SIGTERM the daemon, SIGKILL it if it does not exit in time; return its exit status."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(STOP_TIMEOUT)
        return self.process.returncode


def stop_leftover_daemons(env_runtime_dir: Path) -> list[int]:
    """SIGTERM (then SIGKILL) every daemon whose lock file lies in this test's runtime folder.

    Catches daemons that clients spawned on demand. Only processes whose command
    line is ``reloadd ... serve`` are signalled, so a recycled pid is never hit.
    """
    stopped: list[int] = []
    if not env_runtime_dir.is_dir():
        return stopped
    for lock in env_runtime_dir.glob("*.lock"):
        try:
            pid = int(lock.read_text().strip() or 0)
        except (OSError, ValueError):
            continue
        if pid and _is_reloadd_daemon(pid):
            os.kill(pid, signal.SIGTERM)
            stopped.append(pid)
    _wait_stopped(stopped)
    return stopped


def _wait_stopped(pids: list[int]) -> None:
    """Wait for these daemons (sent SIGTERM) to exit; SIGKILL those still there after a while."""
    deadline = time.monotonic() + STOP_TIMEOUT
    for pid in pids:
        while _is_reloadd_daemon(pid) and time.monotonic() < deadline:
            time.sleep(0.02)
        if _is_reloadd_daemon(pid):
            os.kill(pid, signal.SIGKILL)


def stop_daemons_of_environment(runtime_dir: Path) -> list[int]:
    """SIGTERM (then SIGKILL) every daemon started with ``XDG_RUNTIME_DIR=runtime_dir``.

    Catches a daemon that a dev server's client spawned in the test's last moments (the
    test stopped its daemon while the server still ran, and the server started another,
    then was stopped), before the new daemon wrote its pid into a lock file. Found by
    its environment in ``/proc``; only ``reloadd ... serve`` processes are signalled.
    """
    wanted = b"XDG_RUNTIME_DIR=" + os.fsencode(runtime_dir)
    found: list[int] = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or not _is_reloadd_daemon(pid := int(entry.name)):
            continue
        try:
            environ = (entry / "environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if wanted in environ:
            os.kill(pid, signal.SIGTERM)
            found.append(pid)
    _wait_stopped(found)
    return found


def stop_spawned_daemons() -> list[int]:
    """SIGTERM (then SIGKILL) every daemon a client in this process started and that still runs."""
    from reloadd.client.spawn import _SPAWNED

    running = [process for process in _SPAWNED if process.poll() is None]
    for process in running:
        process.terminate()
    for process in running:
        try:
            process.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(STOP_TIMEOUT)
    _SPAWNED.clear()
    return [process.pid for process in running]


def _is_reloadd_daemon(pid: int) -> bool:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z" and b"reloadd.client.cli" in cmdline and b"serve" in cmdline


@pytest.fixture
def daemon_factory(tmp_path: Path) -> Iterator[list[DaemonProcess]]:
    """A list to append started daemons to; all of them are stopped after the test."""
    started: list[DaemonProcess] = []
    yield started
    for daemon in started:
        daemon.stop()
