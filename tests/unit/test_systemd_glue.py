"""The daemon's systemd glue, one function at a time: notify datagrams, watchdog, status, log lines."""

from __future__ import annotations

import logging
import os
import socket
from pathlib import Path

import pytest

from reloadd.daemon.journal import PriorityFormatter, fields, syslog_priority
from reloadd.daemon.service_status import age
from reloadd.daemon.systemd import Notifier
from reloadd.daemon.watchdog import watchdog_period


def test_the_built_in_notify_sends_one_datagram_of_assignments(tmp_path: Path) -> None:
    path = tmp_path / "notify.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as listener:
        listener.bind(str(path))
        notifier = Notifier.from_environment({"NOTIFY_SOCKET": str(path)})
        assert notifier.implementation == "built-in"
        assert notifier.send(READY="1", STATUS="2 dev servers,\nnot two lines")
        assert listener.recv(4096) == b"READY=1\nSTATUS=2 dev servers, not two lines"


def test_the_built_in_notify_reaches_an_abstract_socket() -> None:
    name = f"reloadd-test-{os.getpid()}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as listener:
        listener.bind("\0" + name)
        assert Notifier.from_environment({"NOTIFY_SOCKET": "@" + name}).send(WATCHDOG="1")
        assert listener.recv(4096) == b"WATCHDOG=1"


def test_a_notify_socket_nobody_listens_on_is_no_error(tmp_path: Path) -> None:
    notifier = Notifier.from_environment({"NOTIFY_SOCKET": str(tmp_path / "gone.sock")})
    assert not notifier.send(READY="1")


def test_outside_systemd_nothing_is_sent() -> None:
    notifier = Notifier.from_environment({})
    assert not notifier.active
    assert not notifier.send(READY="1")


@pytest.mark.parametrize(
    ("environ", "period"),
    [
        ({"WATCHDOG_USEC": "1000000"}, 0.5),
        ({"WATCHDOG_USEC": "10000000", "WATCHDOG_PID": str(os.getpid())}, 5.0),
        ({"WATCHDOG_USEC": "10000000", "WATCHDOG_PID": "1"}, None),  # another process's
        ({"WATCHDOG_USEC": "0"}, None),
        ({"WATCHDOG_USEC": "soon"}, None),
        ({}, None),
    ],
)
def test_the_watchdog_period_is_half_of_watchdog_usec(
    environ: dict[str, str], period: float | None
) -> None:
    assert watchdog_period(environ) == period


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "just now"),
        (9.9, "just now"),
        (12, "10 s ago"),
        (59, "50 s ago"),
        (61, "1 min ago"),
        (3599, "59 min ago"),
        (7300, "2 h ago"),
    ],
)
def test_ages_are_coarse_so_the_status_line_changes_seldom(seconds: float, text: str) -> None:
    assert age(seconds) == text


def test_stderr_lines_carry_their_syslog_priority() -> None:
    record = logging.LogRecord("reloadd.daemon", logging.WARNING, __file__, 1, "a\nb", None, None)
    assert PriorityFormatter("%(message)s").format(record) == "<4>a\n<4>b"
    assert [syslog_priority(level) for level in (10, 20, 30, 40, 50)] == [7, 6, 4, 3, 2]


def test_journal_fields_name_the_client_and_the_path() -> None:
    assert fields(client="web (pid 3)", path="/p/app.py") == {
        "RELOADD_CLIENT": "web (pid 3)",
        "RELOADD_PATH": "/p/app.py",
    }
    assert fields() == {}
