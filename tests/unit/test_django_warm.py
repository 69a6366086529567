"""Django's warm start, one function at a time: the switch, the restart loop, the kept socket's owner.

The whole of it (a real ``manage.py runserver`` with ``RELOADD_WARM=1``) is in
``tests/integration/test_django_warm.py``.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from django.conf import settings  # type: ignore[import-untyped]
from django.test import override_settings  # type: ignore[import-untyped]

from reloadd.client.django import kept_socket, warm

if not settings.configured:
    settings.configure()

TIMEOUT = 10.0


@pytest.mark.parametrize(
    ("value", "setting", "expected"),
    [
        (None, None, False),
        (None, True, True),
        ("1", None, True),
        ("on", False, True),
        ("0", True, False),
        ("off", True, False),
    ],
)
def test_the_variable_wins_over_the_setting(
    monkeypatch: pytest.MonkeyPatch, value: str | None, setting: bool | None, expected: bool
) -> None:
    if value is None:
        monkeypatch.delenv(warm.ENV_VAR, raising=False)
    else:
        monkeypatch.setenv(warm.ENV_VAR, value)
    overrides = {} if setting is None else {warm.SETTING: setting}
    with override_settings(**overrides):
        assert warm.wanted() is expected


def test_an_unknown_value_is_off_and_said(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv(warm.ENV_VAR, "maybe")
    assert warm.wanted() is False
    assert "RELOADD_WARM='maybe' is neither on" in capsys.readouterr().err


@dataclass
class Child:
    """A stand-in for the engine's ``StartedChild``, ending with ``status``."""

    status: int
    pid: int = 4242
    warm: bool = False
    signals: list[int] = field(default_factory=list)

    def wait(self, timeout: float | None = None) -> int:
        return self.status

    def send_signal(self, sig: int) -> None:
        self.signals.append(sig)


@dataclass
class Starter:
    """A stand-in for ``WarmStarter`` whose children end with the given statuses in turn."""

    statuses: list[int]
    started: list[tuple[int, ...]] = field(default_factory=list)

    def start(self, *, pass_fds: tuple[int, ...] = ()) -> Child:
        self.started.append(pass_fds)
        number = len(self.started)
        return Child(self.statuses[number - 1], pid=1000 + number, warm=number > 1)


@pytest.mark.parametrize("status", [0, 1, -int(signal.SIGKILL)])
def test_exit_code_3_starts_the_next_server_and_any_other_status_ends_runserver(
    status: int, capsys: pytest.CaptureFixture[str]
) -> None:
    starter = Starter([3, 3, status])
    assert warm._loop(starter, (7,)) == status
    assert starter.started == [(7,), (7,), (7,)]
    said = capsys.readouterr().err
    assert "server process 1001" not in said  # a cold start says nothing here
    assert "warm start: server process 1002 is a fork of the template" in said


class Interrupted(Child):
    """A child whose wait is interrupted by Ctrl-C or by Django's SIGTERM handler."""

    def __init__(self, exc: BaseException, ends: bool) -> None:
        super().__init__(0)
        self.exc, self.ends, self.waits = exc, ends, 0

    def wait(self, timeout: float | None = None) -> int:
        self.waits += 1
        if self.waits == 1:
            raise self.exc
        if timeout is not None and not self.ends and not self.signals:
            raise subprocess.TimeoutExpired("server", timeout)
        return 0


@pytest.mark.parametrize(
    ("exc", "ends", "killed"),
    [
        (KeyboardInterrupt(), True, False),  # Ctrl-C reached it too: it ends by itself
        (KeyboardInterrupt(), False, True),
        (SystemExit(0), True, True),  # SIGTERM to the parent alone: killed at once, as Django does
    ],
)
def test_an_interrupted_parent_ends_its_server_process(
    exc: BaseException, ends: bool, killed: bool
) -> None:
    child = Interrupted(exc, ends)
    with pytest.raises(type(exc)):
        warm._wait(child)
    assert child.signals == ([signal.SIGKILL] if killed else [])


def test_the_kept_socket_is_passed_only_when_this_parent_bound_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(kept_socket.ENV_VAR, f"5:{os.getpid()}:8000:127.0.0.1")
    assert warm._kept_fds() == (5,)
    monkeypatch.setenv(kept_socket.ENV_VAR, f"5:{os.getpid() + 1}:8000:127.0.0.1")
    assert warm._kept_fds() == ()
    monkeypatch.delenv(kept_socket.ENV_VAR)
    assert warm._kept_fds() == ()


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    with socket.create_server(("127.0.0.1", 0)) as sock:
        yield sock


def test_a_server_process_forked_from_a_template_takes_its_grandparents_socket(
    listener: socket.socket, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A warm server process's parent is the template; runserver's parent is one level up.
    # Here: this process plays the server, its parent the template, and its grandparent
    # the runserver parent that bound the socket.
    grandparent = kept_socket._parent_of(os.getppid())
    assert grandparent > 1
    port = listener.getsockname()[1]
    handover = f"{os.dup(listener.fileno())}:{grandparent}:{port}:127.0.0.1"
    monkeypatch.setenv(kept_socket.ENV_VAR, handover)
    taken = kept_socket._parse(handover)
    assert taken is not None
    with taken:
        assert taken.getsockname()[:2] == ("127.0.0.1", port)
    assert kept_socket.ENV_VAR not in os.environ  # its own children are not told of it
