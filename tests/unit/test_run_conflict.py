"""Recognising ``flask run --port P`` under ``reloadd run --socket P``."""

from __future__ import annotations

import errno

import pytest

from reloadd.client.run.conflict import port_conflict
from reloadd.client.run.reports import Crash


@pytest.mark.parametrize(
    "command",
    [
        ["flask", "run", "--port", "5000"],
        ["flask", "run", "-p", "5000"],
        ["uvicorn", "app:app", "--port=5000"],
        ["gunicorn", "app:app", "--bind", "127.0.0.1:5000"],
        ["python", "manage.py", "runserver", "5000"],
    ],
)
def test_a_command_that_names_the_held_port_is_recognised(command: list[str]) -> None:
    hint = port_conflict(command, [5000], None)
    assert hint is not None
    assert "binds port 5000 itself" in hint
    assert "docs/run.md" in hint


@pytest.mark.parametrize(
    "command",
    [
        ["uvicorn", "app:app", "--fd", "3"],
        ["gunicorn", "app:app", "--bind", "fd://3"],
        ["flask", "run", "--port", "50001"],
        ["5000", "--flag"],  # the program itself is not an argument
    ],
)
def test_a_command_that_takes_the_socket_is_not_blamed(command: list[str]) -> None:
    assert port_conflict(command, [5000], None) is None


def test_an_address_in_use_crash_is_recognised_without_a_port_argument() -> None:
    crash = Crash("/app.py", 3, "OSError: [Errno 98] Address already in use", errno.EADDRINUSE)
    hint = port_conflict(["python", "app.py"], [5000], crash)
    assert hint is not None
    assert "port 5000" in hint


def test_without_held_sockets_there_is_no_conflict() -> None:
    crash = Crash("/app.py", 3, "OSError: [Errno 98] Address already in use", errno.EADDRINUSE)
    assert port_conflict(["flask", "run", "--port", "5000"], [], crash) is None
