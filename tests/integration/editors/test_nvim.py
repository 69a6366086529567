"""The Neovim setup of docs/editors.md, in a real headless Neovim, against a real daemon.

Neovim runs ``editors/nvim/init.lua`` as its configuration, with ``editors/nvim`` on its
runtime path as a user's ``~/.config/nvim`` is; the test drives it over its RPC socket
(``--listen``): it edits and writes files as a user does, and reads the
status line Neovim renders.
"""

from __future__ import annotations

import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from reloadd.client import Client, Crash, ServerState
from tests.daemon_process import DaemonProcess
from tests.integration.editors.nvim_rpc import NeovimRPC
from tests.integration.editors.support import (
    EDITOR_TIMEOUT,
    EDITORS,
    editor_environment,
    event_stream,
    report_while_stopped,
    stop_pid,
    stop_process,
    wait_for,
)
from tests.integration.helpers import NOTIFY_TIMEOUT

NVIM = EDITORS / "nvim"


class Neovim:
    """``nvim --headless -u editors/nvim/init.lua FILE``, driven over its RPC socket."""

    def __init__(self, project: Path, file: Path, log: Path) -> None:
        """Start Neovim in ``project`` on ``file`` and connect to it."""
        # A short folder: the socket's path must fit AF_UNIX's 107 bytes.
        self._folder = Path(tempfile.mkdtemp(prefix="nvim"))
        socket = self._folder / "rpc.sock"
        command = ["nvim", "--headless", "-i", "NONE", "--noplugin"]
        command += ["--cmd", f"set runtimepath^={NVIM}", "-u", str(NVIM / "init.lua")]
        command += ["--listen", str(socket), str(file)]
        with open(log, "ab") as output:
            self.process = subprocess.Popen(
                command,
                cwd=project,
                env=editor_environment(log.parent / "home"),
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
            )
        self.log = log
        self.followers: set[int] = set()
        deadline = time.monotonic() + EDITOR_TIMEOUT
        while not socket.exists():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                pytest.fail(f"Neovim did not listen on {socket}: {log.read_text()}")
            time.sleep(0.02)
        self.api = NeovimRPC(socket, EDITOR_TIMEOUT)

    def lua(self, expression: str) -> object:
        """The value of a Lua expression in Neovim."""
        return self.api.lua(expression)

    def statusline(self) -> object:
        """What ``require('reloadd').statusline()`` returns now."""
        return self.lua("require('reloadd').statusline()")

    def rendered_statusline(self) -> str:
        """The status line as Neovim draws it with the documented ``statusline`` option."""
        option = self.api.request("nvim_get_option", "statusline")
        drawn = self.api.request("nvim_eval_statusline", option, {"maxwidth": 200})
        return str(drawn["str"])

    def follower_pid(self) -> int | None:
        """The pid of the ``reloadd events`` job, remembered to be stopped after the test."""
        pid = self.lua("require('reloadd').follower_pid()")
        if pid is None:
            return None
        assert isinstance(pid, int)
        self.followers.add(pid)
        return pid

    def stop(self) -> None:
        """Quit Neovim, and stop any job it left behind."""
        if hasattr(self, "api"):
            self.follower_pid()
            self.api.quit()
        stop_process(self.process)
        if hasattr(self, "api"):
            self.api.close()
        for pid in self.followers:
            stop_pid(pid)
        for leftover in self._folder.iterdir():
            leftover.unlink()
        self._folder.rmdir()


@pytest.fixture
def start_nvim(project: Path, tmp_path: Path) -> Iterator[Callable[[Path], Neovim]]:
    """Start Neovim on a file; every one started is stopped after the test."""
    started: list[Neovim] = []

    def start(file: Path) -> Neovim:
        nvim = Neovim(project, file, tmp_path / f"nvim-{len(started)}.log")
        started.append(nvim)
        return nvim

    yield start
    for nvim in started:
        nvim.stop()


def test_a_save_in_neovim_tells_the_dev_server_and_shows_as_saved_and_changed(
    project: Path, app: Path, web: Client, start_nvim: Callable[[Path], Neovim], tmp_path: Path
) -> None:
    with event_stream(project, tmp_path / "events.log") as events:
        events.expect(
            "client-joined web",
            lambda e: e["event"] == "client-joined" and e.get("client") == "web",
        )
        nvim = start_nvim(app)
        nvim.api.command("%delete | call setline(1, '# edited in Neovim') | write")
        assert app.read_text() == "# edited in Neovim\n"
        assert web.wait(timeout=NOTIFY_TIMEOUT) == [app]
        saved = events.expect(
            "saved", lambda e: e["event"] == "saved" and str(app) in e.get("paths", [])
        )
        assert saved["client"] == "reloadd changed"  # the save hook's report
        changed = events.expect(
            "changed", lambda e: e["event"] == "changed" and str(app) in e.get("paths", [])
        )
        assert changed["clients"] == ["web"]


def test_the_neovim_status_line_shows_the_state_the_dev_server_reports(
    project: Path, app: Path, web: Client, start_nvim: Callable[[Path], Neovim]
) -> None:
    nvim = start_nvim(app)
    assert nvim.api.request("nvim_get_vvar", "errmsg") == ""  # the setup ran without an error
    wait_for(
        nvim.statusline, "web: connected", "the status line once Neovim follows", EDITOR_TIMEOUT
    )
    web.report_state(ServerState.READY, duration_ms=430)
    wait_for(nvim.statusline, "web: ready", "the status line after ready")
    assert nvim.rendered_statusline().rstrip().endswith("web: ready  1,1 All")
    assert nvim.api.command_output("ReloaddStatus") == "web: ready in 430 ms"

    web.report_state(
        ServerState.CRASHED, error=Crash("SyntaxError", "invalid syntax", str(app), 12)
    )
    wait_for(nvim.statusline, "web: crashed at app/views.py:12", "the status line after a crash")
    assert "web: crashed at app/views.py:12" in nvim.rendered_statusline()
    assert nvim.api.command_output("ReloaddStatus") == (
        "web: crashed at app/views.py:12: SyntaxError: invalid syntax"
    )

    web.report_state(ServerState.CRASHED, error=Crash("ImportError", "no module named x"))
    wait_for(nvim.statusline, "web: crashed (ImportError)", "a crash outside the project")

    web.report_state(ServerState.READY)
    wait_for(nvim.statusline, "web: ready", "the status line once the crash is fixed")

    with Client(project, name="worker", spawn=False) as worker:
        worker.report_state(ServerState.STARTING)
        wait_for(nvim.statusline, "web: ready, worker: starting", "two dev servers")
    wait_for(nvim.statusline, "web: ready", "the status line once worker left")


def test_neovim_follows_the_events_again_when_its_follower_exits(
    project: Path, app: Path, web: Client, start_nvim: Callable[[Path], Neovim]
) -> None:
    web.report_state(ServerState.READY)
    nvim = start_nvim(app)
    wait_for(nvim.statusline, "web: ready", "the status line at start", EDITOR_TIMEOUT)
    first = nvim.follower_pid()
    assert first is not None
    stop_pid(first)
    wait_for(
        lambda: nvim.follower_pid() not in (None, first), True, "a new follower", EDITOR_TIMEOUT
    )
    web.report_state(ServerState.STARTING)
    wait_for(nvim.statusline, "web: starting", "the status line from the new follower")


def test_neovim_started_before_the_daemon_follows_it_once_it_runs(
    project: Path,
    app: Path,
    start_nvim: Callable[[Path], Neovim],
    daemon_factory: list[DaemonProcess],
    tmp_path: Path,
) -> None:
    nvim = start_nvim(app)
    # No daemon runs: the follower exits at once, to be started again 1 s later, then 2 s...
    wait_for(nvim.follower_pid, None, "the first follower's exit", EDITOR_TIMEOUT)
    assert nvim.statusline() == ""
    daemon = DaemonProcess(project, backend="builtin", log_path=tmp_path / "daemon.log")
    daemon_factory.append(daemon)
    daemon.start()
    with Client(project, name="web", spawn=False) as web:
        web.watch(files=[app])
        wait_for(nvim.statusline, "web: connected", "the status line", EDITOR_TIMEOUT)


def test_neovim_follows_again_when_it_missed_events(
    app: Path, web: Client, start_nvim: Callable[[Path], Neovim]
) -> None:
    nvim = start_nvim(app)
    wait_for(nvim.statusline, "web: connected", "the status line at start", EDITOR_TIMEOUT)
    first = nvim.follower_pid()
    report_while_stopped(nvim.process.pid, web, Crash("NameError", "x", str(app), 7))
    # The crash was dropped: only a fresh snapshot, from a new follower, shows it.
    wait_for(nvim.statusline, "web: crashed at app/views.py:7", "the last state", EDITOR_TIMEOUT)
    assert nvim.follower_pid() not in (None, first)


def test_neovim_setup_again_keeps_its_follower(
    app: Path, web: Client, start_nvim: Callable[[Path], Neovim]
) -> None:
    web.report_state(ServerState.READY)
    nvim = start_nvim(app)
    wait_for(nvim.statusline, "web: ready", "the status line at start", EDITOR_TIMEOUT)
    first = nvim.follower_pid()
    nvim.api.command("lua require('reloadd').setup()")
    assert (nvim.follower_pid(), nvim.statusline()) == (first, "web: ready")
    web.report_state(ServerState.STARTING)
    wait_for(nvim.statusline, "web: starting", "the status line after setup() again")
