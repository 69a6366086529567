"""The Vim setup of docs/editors.md, in a real headless Vim, against a real daemon.

The test's vimrc sources ``editors/vim/reloadd.vim`` as a user's vimrc (or plugin folder)
does, and opens the channel the test drives Vim through (see vim_channel.py).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from reloadd.client import Client, Crash, ServerState
from tests.daemon_process import DaemonProcess
from tests.integration.editors.support import (
    EDITOR_TIMEOUT,
    EDITORS,
    editor_environment,
    event_stream,
    report_while_stopped,
    stop_pid,
    wait_for,
)
from tests.integration.editors.vim_channel import Vim
from tests.integration.helpers import NOTIFY_TIMEOUT

VIMRC = f"""set nocompatible
source {EDITORS / "vim" / "reloadd.vim"}
source {EDITORS / "vim" / "statusline.vim"}
"""
"""The test's vimrc: the documented setup, and the documented status line."""


class DocumentedVim(Vim):
    """A Vim running the documented setup, whose jobs are stopped after the test."""

    def __init__(self, project: Path, file: Path, home: Path, log: Path) -> None:
        """Start Vim with the test's vimrc in ``project`` on ``file``."""
        self.followers: set[int] = set()
        super().__init__(VIMRC, project, file, editor_environment(home), log)

    def statusline(self) -> object:
        """What ``ReloaddStatusline()`` returns now."""
        return self.expr("ReloaddStatusline()")

    def follower_pid(self) -> int:
        """The pid of the ``reloadd events`` job (0 while none runs), remembered."""
        pid = self.expr("ReloaddFollowerPid()")
        assert isinstance(pid, int)
        if pid:
            self.followers.add(pid)
        return pid

    def stop(self) -> None:
        """Quit Vim, and stop any job it left behind."""
        if hasattr(self, "_stream"):
            self.follower_pid()
        super().stop()
        for pid in self.followers:
            stop_pid(pid)


@pytest.fixture
def start_vim(project: Path, tmp_path: Path) -> Iterator[Callable[[Path], DocumentedVim]]:
    """Start Vim on a file; every one started is stopped after the test."""
    started: list[DocumentedVim] = []

    def start(file: Path) -> DocumentedVim:
        vim = DocumentedVim(project, file, tmp_path / "home", tmp_path / f"vim-{len(started)}.log")
        started.append(vim)
        return vim

    yield start
    for vim in started:
        vim.stop()


def test_a_save_in_vim_tells_the_dev_server_and_shows_as_saved_and_changed(
    project: Path,
    app: Path,
    web: Client,
    start_vim: Callable[[Path], DocumentedVim],
    tmp_path: Path,
) -> None:
    with event_stream(project, tmp_path / "events.log") as events:
        events.expect(
            "client-joined web", lambda e: e["event"] == "client-joined" and e["client"] == "web"
        )
        vim = start_vim(app)
        vim.ex("%delete | call setline(1, '# edited in Vim') | write")
        assert app.read_text() == "# edited in Vim\n"
        assert web.wait(timeout=NOTIFY_TIMEOUT) == [app]
        saved = events.expect(
            "saved", lambda e: e["event"] == "saved" and str(app) in e.get("paths", [])
        )
        assert saved["client"] == "reloadd changed"  # the save hook's report
        changed = events.expect(
            "changed", lambda e: e["event"] == "changed" and str(app) in e.get("paths", [])
        )
        assert changed["clients"] == ["web"]


def test_the_vim_status_line_shows_the_state_the_dev_server_reports(
    app: Path, web: Client, start_vim: Callable[[Path], DocumentedVim]
) -> None:
    vim = start_vim(app)
    assert vim.expr("v:errmsg") == ""  # the setup ran without an error
    assert "%{ReloaddStatusline()}" in vim.expr("&statusline")
    wait_for(vim.statusline, "web: connected", "the status line once Vim follows", EDITOR_TIMEOUT)
    web.report_state(ServerState.READY, duration_ms=430)
    wait_for(vim.statusline, "web: ready", "the status line after ready")

    web.report_state(
        ServerState.CRASHED, error=Crash("SyntaxError", "invalid syntax", str(app), 12)
    )
    wait_for(vim.statusline, "web: crashed at app/views.py:12", "the status line after a crash")
    assert vim.expr("execute('ReloaddStatus')").strip() == (
        "web: crashed at app/views.py:12: SyntaxError: invalid syntax"
    )

    web.report_state(ServerState.CRASHED, error=Crash("ImportError", "no module named x"))
    wait_for(vim.statusline, "web: crashed (ImportError)", "a crash outside the project")

    web.report_state(ServerState.READY)
    wait_for(vim.statusline, "web: ready", "the status line once the crash is fixed")

    with Client(app.parent.parent, name="worker", spawn=False) as worker:
        worker.report_state(ServerState.STARTING)
        wait_for(vim.statusline, "web: ready, worker: starting", "two dev servers")
    wait_for(vim.statusline, "web: ready", "the status line once worker left")


def test_vim_follows_the_events_again_when_its_follower_exits(
    app: Path, web: Client, start_vim: Callable[[Path], DocumentedVim]
) -> None:
    web.report_state(ServerState.READY)
    vim = start_vim(app)
    wait_for(vim.statusline, "web: ready", "the status line at start", EDITOR_TIMEOUT)
    first = vim.follower_pid()
    assert first
    stop_pid(first)
    wait_for(lambda: vim.follower_pid() not in (0, first), True, "a new follower", EDITOR_TIMEOUT)
    web.report_state(ServerState.STARTING)
    wait_for(vim.statusline, "web: starting", "the status line from the new follower")


def test_vim_started_before_the_daemon_follows_it_once_it_runs(
    project: Path,
    app: Path,
    start_vim: Callable[[Path], DocumentedVim],
    daemon_factory: list[DaemonProcess],
    tmp_path: Path,
) -> None:
    vim = start_vim(app)
    # No daemon runs: the follower exits at once, to be started again 1 s later, then 2 s...
    wait_for(vim.follower_pid, 0, "the first follower's exit", EDITOR_TIMEOUT)
    assert vim.statusline() == ""
    daemon = DaemonProcess(project, backend="builtin", log_path=tmp_path / "daemon.log")
    daemon_factory.append(daemon)
    daemon.start()
    with Client(project, name="web", spawn=False) as web:
        web.watch(files=[app])
        wait_for(vim.statusline, "web: connected", "the status line", EDITOR_TIMEOUT)


def test_vim_follows_again_when_it_missed_events(
    app: Path, web: Client, start_vim: Callable[[Path], DocumentedVim]
) -> None:
    vim = start_vim(app)
    wait_for(vim.statusline, "web: connected", "the status line at start", EDITOR_TIMEOUT)
    first = vim.follower_pid()
    report_while_stopped(vim.process.pid, web, Crash("NameError", "x", str(app), 7))
    # The crash was dropped: only a fresh snapshot, from a new follower, shows it.
    wait_for(vim.statusline, "web: crashed at app/views.py:7", "the last state", EDITOR_TIMEOUT)
    assert vim.follower_pid() not in (0, first)


def test_vim_sourcing_the_setup_again_keeps_its_follower(
    app: Path, web: Client, start_vim: Callable[[Path], DocumentedVim]
) -> None:
    web.report_state(ServerState.READY)
    vim = start_vim(app)
    wait_for(vim.statusline, "web: ready", "the status line at start", EDITOR_TIMEOUT)
    first = vim.follower_pid()
    vim.ex(f"source {EDITORS / 'vim' / 'reloadd.vim'}")
    assert (vim.follower_pid(), vim.statusline()) == (first, "web: ready")
    web.report_state(ServerState.STARTING)
    wait_for(vim.statusline, "web: starting", "the status line after sourcing again")
