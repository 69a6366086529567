"""The states ``DaemonReloader`` reports (one function each; real Django, a stand-in client)."""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.utils import autoreload  # type: ignore[import-untyped]

from reloadd.client.django import DaemonReloader
from reloadd.client.django.lifecycle import STARTING_SLICE, Lifecycle, listening
from reloadd.protocol import ServerState
from tests.unit.test_django_reloader import FakeClient


@pytest.fixture
def client(tmp_path: Path) -> FakeClient:
    fake = FakeClient()
    fake.root = tmp_path
    return fake


@pytest.fixture
def reloader(client: FakeClient) -> Iterator[DaemonReloader]:
    listening.clear()
    reloader = DaemonReloader(client, since=1000.0)
    yield reloader
    reloader.stop()
    listening.clear()


def dead_thread(target: object = None) -> threading.Thread:
    """A thread that ran ``target`` (through Django's ``check_errors``) and ended."""
    thread = threading.Thread(target=target)  # type: ignore[arg-type]
    thread.start()
    thread.join(5)
    return thread


def test_ready_once_the_server_listens_and_waits_are_short_until_then(
    reloader: DaemonReloader, client: FakeClient
) -> None:
    assert reloader.lifecycle.wait_slice(1.0) == 1.0, "no server thread: a reloader alone"
    reloader.lifecycle.server_thread = threading.current_thread()  # alive, as runserver's is
    reloader.lifecycle.starting(client)
    assert reloader.lifecycle.wait_slice(1.0) == STARTING_SLICE
    ticker = reloader.tick()
    next(ticker)
    next(ticker)
    assert client.states == [(ServerState.STARTING, None)]
    listening.set()
    next(ticker)
    assert client.states == [(ServerState.STARTING, None), (ServerState.READY, None)]
    assert reloader.lifecycle.wait_slice(1.0) == 1.0
    next(ticker)
    assert len(client.states) == 2, "each state is reported once"


def test_a_server_thread_that_died_on_a_syntax_error_is_a_crash_at_its_line(
    reloader: DaemonReloader, client: FakeClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    views = tmp_path / "views.py"
    views.write_text("x = 1\n\ndef broken(:\n")

    def inner_run() -> None:
        compile(views.read_text(), str(views), "exec")

    monkeypatch.setattr(autoreload, "_exception", None)
    monkeypatch.setattr(threading, "excepthook", lambda args: None)  # no traceback printed
    reloader.lifecycle.server_thread = dead_thread(autoreload.check_errors(inner_run))
    ticker = reloader.tick()
    next(ticker)
    next(ticker)
    (state, error) = client.states[-1]
    assert state is ServerState.CRASHED
    assert error is not None
    assert (error.type, error.file, error.line) == ("SyntaxError", str(views), 3)


def test_a_server_thread_that_ended_without_an_error_is_no_crash(
    reloader: DaemonReloader, client: FakeClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(autoreload, "_exception", None)
    reloader.lifecycle.server_thread = dead_thread()
    ticker = reloader.tick()
    next(ticker)
    next(ticker)
    assert client.states == []


@pytest.mark.parametrize(
    ("exc", "stopped"),
    [(KeyboardInterrupt(), True), (SystemExit(0), True), (SystemExit(3), False)],
)
def test_ctrl_c_and_sigterm_are_stopped_a_restart_is_not(
    reloader: DaemonReloader, client: FakeClient, exc: BaseException, stopped: bool
) -> None:
    class Interrupted(FakeClient):
        def wait(self, timeout: float | None = None) -> list[Path]:
            raise exc

    interrupted = Interrupted()
    reloader.client = interrupted
    ticker = reloader.tick()
    next(ticker)
    with pytest.raises(type(exc)):
        next(ticker)
    assert interrupted.states == ([(ServerState.STOPPED, None)] if stopped else [])
    assert interrupted.closed


def test_a_restart_asked_for_exits_with_code_3_and_is_no_stop(
    reloader: DaemonReloader, client: FakeClient
) -> None:
    ticker = reloader.tick()
    next(ticker)
    client.restart_requested = True
    with pytest.raises(SystemExit) as exited:
        next(ticker)
    assert exited.value.code == 3
    assert ServerState.STOPPED not in [state for state, _ in client.states]
    assert client.closed


def test_nothing_is_reported_after_stopped() -> None:
    lifecycle = Lifecycle()
    client = FakeClient()
    lifecycle.ended(client, KeyboardInterrupt())
    listening.set()
    try:
        lifecycle.check(client)
    finally:
        listening.clear()
    assert client.states == [(ServerState.STOPPED, None)]
    assert sys.exc_info() == (None, None, None)
