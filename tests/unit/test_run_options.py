"""``reloadd run``'s command line, ``--watch``/``--ignore`` globs, signals and socket addresses."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from reloadd.client.cli import build_parser, main
from reloadd.client.run.options import RunError, RunOptions, options_from_args, parse_signal
from reloadd.client.run.patterns import IgnoreRules, WatchSet, split_glob, watch_set
from reloadd.client.run.sockets import SocketSpec, parse_socket_spec
from reloadd.protocol import ReloaddError


def options(*argv: str) -> RunOptions:
    return options_from_args(build_parser().parse_args(["run", *argv]))


def test_the_command_follows_the_double_dash_options_included() -> None:
    parsed = options("--watch", "*.cfg", "--", "python", "app.py", "--watch", "x")
    assert parsed.command == ("python", "app.py", "--watch", "x")
    assert parsed.watch.globs == ((str(Path.cwd()), "*.cfg"),)


def test_the_double_dash_may_be_left_out() -> None:
    assert options("python", "-m", "http.server").command == ("python", "-m", "http.server")


def test_defaults() -> None:
    parsed = options("--", "cmd")
    assert parsed.stop_signal is signal.SIGTERM
    assert parsed.stop_timeout == 5.0
    assert parsed.sockets == ()
    assert not parsed.watch
    assert not parsed.ignore
    assert not parsed.warm


def test_all_options() -> None:
    parsed = options(
        "--name", "web", "--socket", "8000", "--socket", "0.0.0.0:9000",
        "--stop-signal", "INT", "--stop-timeout", "0.5", "--ignore", "*.pyc", "--warm", "--", "cmd",
    )  # fmt: skip
    assert parsed.client_name() == "web"
    assert parsed.sockets == (SocketSpec("127.0.0.1", 8000), SocketSpec("0.0.0.0", 9000))
    assert parsed.stop_signal is signal.SIGINT
    assert parsed.stop_timeout == 0.5
    assert parsed.ignore.names == ("*.pyc",)
    assert parsed.warm


def test_the_default_name_is_stable_for_a_command_in_a_folder() -> None:
    first, second = options("--", "python", "app.py"), options("--", "python", "app.py")
    assert first.client_name() == second.client_name()
    assert first.client_name().startswith("reloadd run python app.py in ")
    assert options("--", "python", "other.py").client_name() != first.client_name()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ((), "no command to run"),
        (("--",), "no command to run"),
        (("--stop-signal", "SIGNOPE", "--", "x"), "names no signal"),
        (("--stop-timeout", "-1", "--", "x"), "must be 0 or more"),
        (("--socket", "web", "--", "x"), "expected PORT, HOST:PORT"),
        (("--socket", "70000", "--", "x"), "out of range"),
    ],
)
def test_bad_options_say_what_to_do(argv: tuple[str, ...], message: str) -> None:
    with pytest.raises(RunError, match=message) as caught:
        options(*argv)
    assert isinstance(caught.value, ReloaddError)


def test_main_reports_a_bad_option_in_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run"]) == 1
    assert capsys.readouterr().err.startswith("reloadd: no command to run")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("SIGHUP", signal.SIGHUP),
        ("term", signal.SIGTERM),
        ("INT", signal.SIGINT),
        ("9", signal.SIGKILL),
    ],
)
def test_parse_signal(text: str, expected: signal.Signals) -> None:
    assert parse_signal(text) is expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("8000", SocketSpec("127.0.0.1", 8000)),
        (":8000", SocketSpec("127.0.0.1", 8000)),
        ("0.0.0.0:80", SocketSpec("0.0.0.0", 80)),
        ("localhost:0", SocketSpec("localhost", 0)),
        ("[::1]:8000", SocketSpec("::1", 8000)),
    ],
)
def test_parse_socket_spec(text: str, expected: SocketSpec) -> None:
    assert parse_socket_spec(text) == expected


def test_socket_spec_prints_as_an_address() -> None:
    assert str(SocketSpec("::1", 80)) == "[::1]:80"
    assert str(SocketSpec("127.0.0.1", 80)) == "127.0.0.1:80"


def test_split_glob(tmp_path: Path) -> None:
    assert split_glob("templates/**/*.html", tmp_path) == (
        str(tmp_path / "templates"),
        "**/*.html",
    )
    assert split_glob("*.cfg", tmp_path) == (str(tmp_path), "*.cfg")
    assert split_glob("/etc/app/*.conf", tmp_path) == ("/etc/app", "*.conf")
    assert split_glob("conf/app.ini", tmp_path) == (str(tmp_path / "conf" / "app.ini"), None)
    assert split_glob("a/[bc]/d", tmp_path) == (str(tmp_path / "a"), "[bc]/d")


def test_watch_set_takes_files_folders_and_globs(tmp_path: Path) -> None:
    (tmp_path / "conf").mkdir()
    watched = watch_set(["conf", "app.ini", "src/**/*.py"], tmp_path)
    assert watched == WatchSet(
        files=(str(tmp_path / "app.ini"),),
        globs=((str(tmp_path / "conf"), "**"), (str(tmp_path / "src"), "**/*.py")),
    )
    assert watched
    assert not watch_set([], tmp_path)


def test_ignore_rules(tmp_path: Path) -> None:
    (tmp_path / "build").mkdir()
    rules = IgnoreRules.from_patterns(["*.pyc", ".#*", "build", "docs/**/*.md", "a/b.py"], tmp_path)
    ignored = [
        tmp_path / "x" / "m.pyc",
        tmp_path / ".#app.py",
        tmp_path / "build" / "lib" / "m.py",
        tmp_path / "docs" / "x" / "y.md",
        tmp_path / "a" / "b.py",
    ]
    kept = [tmp_path / "app.py", tmp_path / "docs" / "y.py", tmp_path / "a" / "c.py"]
    assert [p for p in ignored if not rules.ignores(str(p))] == []
    assert rules.keep(str(p) for p in kept) == [str(p) for p in kept]
    assert IgnoreRules().keep(["/a"]) == ["/a"]
