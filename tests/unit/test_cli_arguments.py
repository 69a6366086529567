"""The command line's parsing: ``--idle-exit`` and its precedence, and usage errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from reloadd.client import spawn
from reloadd.client.cli import main, parse_arguments
from reloadd.client.cli_changed import told
from reloadd.client.idle_exit import (
    BACKGROUND_IDLE_EXIT,
    DurationError,
    format_duration,
    idle_exit_seconds,
    parse_duration,
)
from reloadd.protocol import ReloaddError


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("0", 0.0),
        ("90", 90.0),
        ("90s", 90.0),
        ("30m", 1800.0),
        ("1h30m", 5400.0),
        ("1.5h", 5400.0),
        ("500ms", 0.5),
        ("2d", 172800.0),
        (" 2M ", 120.0),
    ],
)
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "m", "abc", "30x", "-5", "-5m", "nan", "inf", "1h-30m"])
def test_parse_duration_refuses_what_is_not_one(text: str) -> None:
    with pytest.raises(DurationError, match=r"0 for never|0 means never") as caught:
        parse_duration(text)
    assert isinstance(caught.value, ReloaddError)


@pytest.mark.parametrize("seconds", [0.0, 2.0, 90.0, 1800.0, 5400.0, 0.5])
def test_format_duration_reads_back(seconds: float) -> None:
    assert parse_duration(format_duration(seconds)) == seconds


def test_argument_beats_environment_beats_default() -> None:
    env = {"RELOADD_IDLE_EXIT": "2m"}
    assert idle_exit_seconds(5.0, env=env, interactive=False) == 5.0
    assert idle_exit_seconds(0.0, env=env, interactive=False) == 0.0
    assert idle_exit_seconds(None, env=env, interactive=False) == 120.0
    assert idle_exit_seconds(None, env=env, background=True) == 120.0
    assert idle_exit_seconds(None, env={}, interactive=False) == BACKGROUND_IDLE_EXIT


@pytest.mark.parametrize(
    ("env", "interactive", "background", "seconds"),
    [
        ({"INVOCATION_ID": "abc"}, False, False, 0.0),  # systemd owns a service's life
        ({"NOTIFY_SOCKET": "/run/x"}, False, False, 0.0),
        ({}, True, False, 0.0),  # in a terminal: you see it, Ctrl-C stops it
        ({}, False, False, BACKGROUND_IDLE_EXIT),  # a script, nohup
        ({"INVOCATION_ID": "abc"}, True, True, BACKGROUND_IDLE_EXIT),  # start, on demand
    ],
)
def test_defaults(env: dict[str, str], interactive: bool, background: bool, seconds: float) -> None:
    assert (
        idle_exit_seconds(None, env=env, interactive=interactive, background=background) == seconds
    )


def test_a_bad_environment_value_names_the_variable() -> None:
    with pytest.raises(DurationError, match="RELOADD_IDLE_EXIT: 'soon' is not a duration"):
        idle_exit_seconds(None, env={"RELOADD_IDLE_EXIT": "soon"})


@pytest.mark.parametrize("command", ["serve", "start"])
def test_idle_exit_flag(command: str) -> None:
    assert parse_arguments([command, "--idle-exit", "30m"]).idle_exit == 1800.0
    assert parse_arguments([command, "--idle-exit", "0"]).idle_exit == 0.0
    assert parse_arguments([command]).idle_exit is None


def test_a_bad_idle_exit_flag_shows_the_commands_usage(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        parse_arguments(["serve", "--idle-exit", "soon"])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: reloadd serve")
    assert "'soon' is not a duration" in err


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """Stand in for the daemon's ``serve()``: what ``reloadd serve`` passes it."""
    import reloadd.daemon.main

    passed: dict[str, Any] = {}

    def fake_serve(**kwargs: Any) -> int:
        passed.update(kwargs)
        return 0

    monkeypatch.setattr(reloadd.daemon.main, "serve", fake_serve)
    monkeypatch.setattr("sys.stdin", None)  # not a terminal
    return passed


def test_serve_passes_idle_exit_in_seconds(served: dict[str, Any], tmp_path: Path) -> None:
    assert main(["serve", "--root", str(tmp_path), "--idle-exit", "90s"]) == 0
    assert served["idle_exit"] == 90.0
    assert served["root"] == str(tmp_path.resolve())


def test_serve_takes_the_environment_then_the_default(
    served: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RELOADD_IDLE_EXIT", "2m")
    assert main(["serve", "--root", str(tmp_path)]) == 0
    assert served["idle_exit"] == 120.0
    monkeypatch.delenv("RELOADD_IDLE_EXIT")
    assert main(["serve", "--root", str(tmp_path)]) == 0
    assert served["idle_exit"] == BACKGROUND_IDLE_EXIT
    monkeypatch.setenv("INVOCATION_ID", "0123")
    assert main(["serve", "--root", str(tmp_path)]) == 0
    assert served["idle_exit"] == 0.0


def test_serve_with_a_bad_environment_value_fails_in_one_line(
    served: dict[str, Any],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("RELOADD_IDLE_EXIT", "soon")
    assert main(["serve", "--root", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("reloadd: RELOADD_IDLE_EXIT: 'soon' is not a duration")
    assert len(err.splitlines()) == 1
    assert served == {}


@pytest.mark.parametrize(
    ("argv", "usage"),
    [
        (["status", "--bogus"], "usage: reloadd status"),
        (["run", "--bogus", "--", "true"], "usage: reloadd run"),
        (["stop", "--bogus"], "usage: reloadd stop"),
        (["list", "--root", "x"], "usage: reloadd list"),
        (["stop", "--all", "--root", "x"], "usage: reloadd stop"),
    ],
)
def test_a_mistake_after_a_command_shows_that_commands_usage(
    argv: list[str], usage: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith(usage), err
    assert "usage: reloadd [-h]" not in err


def test_a_daemon_started_in_the_background_is_not_the_starters_service(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("INVOCATION_ID", "0123")
    monkeypatch.setenv("NOTIFY_SOCKET", "/run/systemd/notify")
    env = spawn._daemon_environment()
    assert "INVOCATION_ID" not in env
    assert "NOTIFY_SOCKET" not in env


@pytest.mark.parametrize(
    ("counts", "sentence"),
    [
        ((1, 1, 1), "told 1 dev server of 1 saved file"),
        ((2, 3, 3), "told 2 dev servers of 3 saved files"),
        ((0, 0, 1), "told no dev server: the daemon's watcher had already reported the saved file"),
        ((0, 2, 2), "told no dev server: none registered the saved files"),
    ],
)
def test_what_changed_says(counts: tuple[int, int, int], sentence: str) -> None:
    assert told(*counts) == sentence


@pytest.mark.parametrize("command", ["serve", "start"])
def test_the_command_line_states_the_daemons_own_defaults(command: str) -> None:
    import inspect

    import reloadd.daemon.main

    daemon_defaults = inspect.signature(reloadd.daemon.main.serve).parameters
    args = parse_arguments([command])
    assert args.grace == daemon_defaults["grace"].default
    assert args.log_level == daemon_defaults["log_level"].default


def test_status_watch_and_json_do_not_go_together(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        parse_arguments(["status", "--watch", "--json"])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: reloadd status")
    assert "use 'reloadd events --json'" in err


def test_events_and_reload_take_their_arguments() -> None:
    args = parse_arguments(["events", "--json", "--root", "/p"])
    assert (args.command, args.json, args.root) == ("events", True, "/p")
    assert parse_arguments(["reload"]).name is None
    assert parse_arguments(["reload", "web"]).name == "web"
