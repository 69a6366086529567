"""The systemd user service end to end, under a real ``systemd --user``: run inside ``unshare -m``.

    unshare -m python -m tests.integration.systemd_scenario ROOT WORK RESULT.json

As root in a private mount namespace: a tmpfs on ``/run/systemd`` with
``/run/systemd/system`` in it (so the manager believes it runs under systemd), a
fresh 0700 ``$XDG_RUNTIME_DIR`` and a ``$XDG_CONFIG_HOME`` under WORK, then
``/lib/systemd/systemd --user`` in the background. Then, with the ``reloadd``
command line: install the project's unit and start it; a dev server registers and
is notified; SIGKILL the daemon (systemd restarts it, and no second daemon is
started beside it); SIGSTOP it (the watchdog restarts it); uninstall. What was
observed is written to RESULT.json for the test to assert on; the manager is
stopped by its PID at the end, and any daemon of ROOT still running is killed and
reported.
"""

from __future__ import annotations

import json
import os
import selectors
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import Any

from reloadd.client import Client, Role
from reloadd.client.service_unit import socket_unit_name, unit_name, user_unit_dir
from reloadd.protocol.endpoint import endpoint_for

STEP_TIMEOUT = 30.0
"""The longest any one step may take (the watchdog's restart takes about 16 s)."""


class Journal:
    """A stand-in for journald on its two sockets, keeping every record it is sent.

    ``/run/systemd/journal/socket`` takes native records (the manager's own log, and
    the daemon's through systemd-python's ``JournalHandler``);
    ``/run/systemd/journal/stdout`` takes the services' stdout and stderr streams,
    whose presence makes the manager set ``$JOURNAL_STREAM`` for them.
    """

    def __init__(self) -> None:
        folder = Path("/run/systemd/journal")
        folder.mkdir()
        self.records: list[dict[str, str]] = []
        self.lines: list[str] = []
        self._lock = threading.Lock()
        self._native = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._native.bind(str(folder / "socket"))
        self._native.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
        self._stream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._stream.bind(str(folder / "stdout"))
        self._stream.listen(16)
        self._selector = selectors.DefaultSelector()
        self._selector.register(self._native, selectors.EVENT_READ, self._read_native)
        self._selector.register(self._stream, selectors.EVENT_READ, self._accept)
        self._stop = False
        self._thread = threading.Thread(target=self._run, name="journal", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop:
            for key, _ in self._selector.select(0.1):
                key.data(key.fileobj)

    def _read_native(self, sock: socket.socket) -> None:
        data = sock.recv(1 << 20)
        record: dict[str, str] = {}
        position = 0
        while position < len(data):
            end = data.find(b"\n", position)
            end = len(data) if end < 0 else end
            line = data[position:end]
            if b"=" in line:
                name, _, value = line.partition(b"=")
                position = end + 1
            else:  # NAME\n, a little-endian 64-bit length, the value, \n
                name = line
                (length,) = struct.unpack("<Q", data[end + 1 : end + 9])
                value = data[end + 9 : end + 9 + length]
                position = end + 9 + length + 1
            record[name.decode()] = value.decode(errors="replace")
        with self._lock:
            self.records.append(record)

    def _accept(self, sock: socket.socket) -> None:
        connection, _ = sock.accept()
        self._selector.register(connection, selectors.EVENT_READ, self._read_stream)

    def _read_stream(self, connection: socket.socket) -> None:
        data = connection.recv(65536)
        if not data:
            self._selector.unregister(connection)
            connection.close()
            return
        with self._lock:
            self.lines.extend(data.decode(errors="replace").splitlines())

    def messages(self) -> list[str]:
        with self._lock:
            return [record.get("MESSAGE", "") for record in self.records] + list(self.lines)

    def close(self) -> None:
        self._stop = True
        self._thread.join(5)
        self._native.close()
        self._stream.close()


class Scenario:
    """One run: the manager, the project, and what was observed."""

    def __init__(self, root: Path, work: Path) -> None:
        self.root = root
        self.work = work
        self.unit = unit_name(root)
        self.seen: dict[str, Any] = {"steps": []}
        self.manager: subprocess.Popen[bytes] | None = None
        self.journal: Journal | None = None
        self.env = dict(os.environ)

    # -- the namespace and the manager ---------------------------------------------------------

    def start_manager(self) -> None:
        subprocess.run(["mount", "-t", "tmpfs", "tmpfs", "/run/systemd"], check=True)
        Path("/run/systemd/system").mkdir()
        self.journal = Journal()
        runtime = self.work / "xdg-run"
        runtime.mkdir(mode=0o700)
        config = self.work / "xdg-config"
        config.mkdir()
        self.env.update(XDG_RUNTIME_DIR=str(runtime), XDG_CONFIG_HOME=str(config))
        os.environ.update(XDG_RUNTIME_DIR=str(runtime), XDG_CONFIG_HOME=str(config))
        self.manager = subprocess.Popen(
            ["/lib/systemd/systemd", "--user", "--log-level=info"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            stdin=subprocess.DEVNULL,
            env=self.env,
        )
        self.wait_until(
            "the user manager runs",
            lambda: (
                self.systemctl("is-system-running", check=False).stdout.strip()
                in ("running", "degraded")
            ),
        )

    def stop_manager(self) -> None:
        if self.manager is None:
            return
        self.manager.terminate()
        try:
            self.manager.wait(10)
        except subprocess.TimeoutExpired:
            self.manager.kill()
            self.manager.wait(10)
        self.seen["manager_exit"] = self.manager.returncode
        if self.journal is not None:
            self.journal.close()
            self.seen["journal"] = self.journal.records
            self.seen["journal_lines"] = self.journal.lines

    # -- helpers -------------------------------------------------------------------------------

    def systemctl(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["systemctl", "--user", *args],
            capture_output=True,
            text=True,
            env=self.env,
            check=check,
            timeout=STEP_TIMEOUT,
        )

    def reloadd(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "reloadd.client.cli", *args],
            capture_output=True,
            text=True,
            env=self.env,
            timeout=STEP_TIMEOUT * 2,
        )

    def show(self, *properties: str) -> dict[str, str]:
        text = self.systemctl("show", self.unit, f"--property={','.join(properties)}").stdout
        return dict(line.partition("=")[::2] for line in text.splitlines() if "=" in line)

    def wait_until(self, what: str, check: Any, timeout: float = STEP_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        while not check():
            if time.monotonic() > deadline:
                raise AssertionError(f"{what}: not within {timeout} s")
            time.sleep(0.05)
        self.step(what)

    def step(self, what: str) -> None:
        self.seen["steps"].append(what)
        print(f"scenario: {what}", file=sys.stderr, flush=True)

    def main_pid(self) -> int:
        return int(self.show("MainPID")["MainPID"] or 0)

    def restarted(self, old_pid: int) -> bool:
        state = self.show("ActiveState", "MainPID")
        return state["ActiveState"] == "active" and state["MainPID"] not in ("0", str(old_pid))

    def serving_pid(self) -> int:
        with Client(self.root, name="scenario probe", role=Role.TOOL, spawn=False) as probe:
            return probe.daemon.pid

    def daemons_of_root(self, root: Path | None = None) -> list[int]:
        """Every live ``reloadd ... serve --root ROOT`` process (zombies aside)."""
        wanted = str(root or self.root).encode()
        found = []
        for proc in Path("/proc").iterdir():
            if not proc.name.isdigit():
                continue
            try:
                words = (proc / "cmdline").read_bytes().split(b"\0")
                state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
            except (OSError, IndexError):
                continue
            if state != "Z" and b"serve" in words and wanted in words:
                found.append(int(proc.name))
        return found

    # -- the scenario --------------------------------------------------------------------------

    def run(self) -> None:
        app = self.root / "app.py"
        app.write_text("x = 1\n")

        install = self.reloadd("service", "install", "--root", str(self.root), "--now")
        self.seen["install"] = [install.returncode, install.stdout, install.stderr]
        self.step("installed")
        unit_path = user_unit_dir(self.env) / self.unit
        verify = subprocess.run(
            ["systemd-analyze", "--user", "verify", self.unit],
            capture_output=True,
            text=True,
            env=self.env,
            timeout=STEP_TIMEOUT,
        )
        self.seen["verify"] = [verify.returncode, verify.stderr]
        self.seen["unit_file"] = (user_unit_dir(self.env) / "reloadd@.service").read_text()
        self.seen["after_install"] = self.show(
            "ActiveState", "UnitFileState", "StatusText", "WatchdogUSec", "Type", "MainPID"
        )
        self.seen["service_status"] = self.reloadd(
            "service", "status", "--root", str(self.root)
        ).stdout
        del unit_path

        with Client(self.root, name="scenario dev server") as client:
            client.watch(files=[app])
            self.wait_until(
                "the status line counts the dev server",
                lambda: self.show("StatusText")["StatusText"].startswith("1 dev server, 1 file"),
            )
            app.write_text("x = 2\n")
            self.seen["told_first"] = [str(p) for p in client.wait(timeout=STEP_TIMEOUT)]

            killed = self.main_pid()
            os.kill(killed, signal.SIGKILL)
            self.step(f"SIGKILLed the daemon, pid {killed}")
            self.wait_until("it is dead", lambda: not alive(killed))
            # Edited, and the client asked, while systemd waits to restart the daemon: the
            # client must not start a daemon of its own beside the unit.
            app.write_text("x = 3\n")
            self.seen["told_after_kill"] = [str(p) for p in client.wait(timeout=STEP_TIMEOUT)]
            self.wait_until("systemd restarted it", lambda: self.restarted(killed))
            self.seen["after_kill"] = {
                "main_pid": self.main_pid(),
                "serving_pid": self.serving_pid(),
                "daemons": self.daemons_of_root(),
                "restarts": self.show("NRestarts")["NRestarts"],
            }

            frozen = self.main_pid()
            os.kill(frozen, signal.SIGSTOP)
            self.step(f"SIGSTOPped the daemon, pid {frozen}")
            self.wait_until("the watchdog restarted it", lambda: self.restarted(frozen), 40)
            self.seen["after_stop"] = {
                "main_pid": self.main_pid(),
                "frozen_gone": not alive(frozen),
                "daemons": self.daemons_of_root(),
                "restarts": self.show("NRestarts")["NRestarts"],
            }
            app.write_text("x = 4\n")
            self.seen["told_after_watchdog"] = [str(p) for p in client.wait(timeout=STEP_TIMEOUT)]
            # The client reconnects when it is used (and retries while it polls meanwhile).
            self.wait_until(
                "the client is back with the new daemon",
                lambda: (
                    client.wait(timeout=0.2) == []
                    and self.show("StatusText")["StatusText"].startswith("1 dev server")
                ),
            )

        # Installed but stopped: a client says so, and starts a daemon of its own.
        self.systemctl("stop", self.unit)
        outside = subprocess.run(
            [sys.executable, "-c", _CLIENT, str(self.root)],
            capture_output=True,
            text=True,
            env=self.env,
            timeout=STEP_TIMEOUT,
        )
        self.seen["stopped_unit_client"] = [outside.returncode, outside.stdout, outside.stderr]
        self.seen["stopped_unit_daemons"] = self.daemons_of_root()
        # Installing again (--now) takes the project back from that daemon.
        again = self.reloadd("service", "install", "--root", str(self.root), "--now")
        self.seen["install_again"] = [again.returncode, again.stdout, again.stderr]
        self.seen["after_install_again"] = {
            "main_pid": self.main_pid(),
            "serving_pid": self.serving_pid(),
            "daemons": self.daemons_of_root(),
        }

        self.socket_activation()

        uninstall = self.reloadd("service", "uninstall", "--root", str(self.root))
        self.seen["uninstall"] = [uninstall.returncode, uninstall.stdout, uninstall.stderr]
        self.seen["after_uninstall"] = {
            **self.show("LoadState", "ActiveState"),
            "files": sorted(str(p) for p in user_unit_dir(self.env).rglob("*") if p.is_file()),
            "daemons": self.daemons_of_root(),
            "status": self.reloadd("service", "status", "--root", str(self.root)).stdout,
        }

    def socket_activation(self) -> None:
        """A second project, installed with --socket: no daemon until a client connects."""
        root = self.root.parent / "socket-project"
        root.mkdir()
        (root / "pyproject.toml").write_text("[project]\nname = 'other'\n")
        app = root / "app.py"
        app.write_text("y = 1\n")
        service, socket_unit = unit_name(root), socket_unit_name(root)
        install = self.reloadd("service", "install", "--root", str(root), "--socket", "--now")
        seen: dict[str, Any] = {"install": [install.returncode, install.stdout, install.stderr]}
        self.step("installed a second project with --socket")
        verify = subprocess.run(
            ["systemd-analyze", "--user", "verify", socket_unit],
            capture_output=True,
            text=True,
            env=self.env,
            timeout=STEP_TIMEOUT,
        )
        socket_path = endpoint_for(root).socket_path
        seen["verify"] = [verify.returncode, verify.stderr]
        seen["before"] = {
            "socket": self.show_unit(socket_unit, "ActiveState", "SubState"),
            "service": self.show_unit(service, "ActiveState", "UnitFileState"),
            "daemons": self.daemons_of_root(root),
            "socket_mode": oct(socket_path.stat().st_mode & 0o777),
        }
        with Client(root, name="first dev server") as client:
            client.watch(files=[app])
            app.write_text("y = 2\n")
            seen["told"] = [str(p) for p in client.wait(timeout=STEP_TIMEOUT)]
            seen["after"] = {
                "service": self.show_unit(service, "ActiveState", "MainPID"),
                "serving_pid": client.daemon.pid,
                "daemons": self.daemons_of_root(root),
            }
        uninstall = self.reloadd("service", "uninstall", "--root", str(root))
        seen["uninstall"] = [uninstall.returncode, uninstall.stdout, uninstall.stderr]
        seen["after_uninstall"] = {
            "socket_file": socket_path.exists(),
            "socket": self.show_unit(socket_unit, "LoadState", "ActiveState"),
            "daemons": self.daemons_of_root(root),
        }
        self.seen["socket_activation"] = seen
        self.step("uninstalled the second project")

    def show_unit(self, unit: str, *properties: str) -> dict[str, str]:
        text = self.systemctl("show", unit, f"--property={','.join(properties)}").stdout
        return dict(line.partition("=")[::2] for line in text.splitlines() if "=" in line)


_CLIENT = """
import sys
from reloadd.client import Client
with Client(sys.argv[1], name="client beside a stopped unit") as client:
    print(client.daemon.pid)
"""


def alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie does not)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def main() -> int:
    root, work, result = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
    scenario = Scenario(root, work)
    try:
        scenario.start_manager()
        scenario.run()
    except BaseException:  # noqa: BLE001  (reported to the test, which fails with it)
        scenario.seen["error"] = traceback.format_exc()
    finally:
        try:
            scenario.stop_manager()
        finally:
            left = scenario.daemons_of_root()
            scenario.seen["left_behind"] = left
            for pid in left:
                os.kill(pid, signal.SIGKILL)
            scenario.seen["manager_log"] = "\n".join(
                record.get("MESSAGE", "") for record in scenario.seen.get("journal", [])
            )
            result.write_text(json.dumps(scenario.seen, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
