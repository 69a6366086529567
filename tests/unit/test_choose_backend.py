"""Choosing the backend: argument > RELOADD_BACKEND > auto, and auto's fallback."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import pytest

from reloadd.daemon.backends.base import Backend, ChangeBatch
from reloadd.daemon.backends.builtin import builtin_backend
from reloadd.daemon.backends.choose import BACKEND_NAMES, choose_backend, requested_name
from reloadd.protocol.errors import BackendError, WatchmanUnavailable


def _ignore(batch: ChangeBatch) -> None:
    del batch


BUILTIN = type(builtin_backend(_ignore))
"""This system's built-in watcher class (inotify on Linux, watchfiles elsewhere)."""


@pytest.fixture
def choose() -> Iterator[Callable[..., Backend]]:
    """``choose_backend`` with a do-nothing sink; every backend made is closed afterwards."""
    made: list[Backend] = []

    def call(
        requested: str | None,
        *,
        watchman_sock: str | None = None,
        env: Mapping[str, str] | None = None,
    ) -> Backend:
        backend = choose_backend(requested, _ignore, watchman_sock=watchman_sock, env=env)
        made.append(backend)
        return backend

    yield call
    for backend in made:
        backend.close()


@pytest.fixture
def no_watchman(tmp_path: Path) -> str:
    """A Watchman socket path where nothing listens."""
    return str(tmp_path / "no-watchman.sock")


def test_names() -> None:
    assert BACKEND_NAMES == ("auto", "watchman", "builtin")


@pytest.mark.parametrize(
    ("requested", "env", "expected"),
    [
        (None, {}, "auto"),
        ("", {}, "auto"),
        (None, {"RELOADD_BACKEND": ""}, "auto"),
        (None, {"RELOADD_BACKEND": "builtin"}, "builtin"),
        (None, {"RELOADD_BACKEND": " Watchman "}, "watchman"),
        ("builtin", {"RELOADD_BACKEND": "watchman"}, "builtin"),
        ("auto", {"RELOADD_BACKEND": "builtin"}, "auto"),
        ("BUILTIN", {}, "builtin"),
    ],
)
def test_argument_beats_environment_beats_auto(
    requested: str | None, env: dict[str, str], expected: str
) -> None:
    assert requested_name(requested, env) == expected


def test_environment_defaults_to_os_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RELOADD_BACKEND")  # tests/conftest.py sets it for every test
    assert requested_name(None) == "auto"
    monkeypatch.setenv("RELOADD_BACKEND", "watchman")
    assert requested_name(None) == "watchman"


def test_unknown_argument_names_the_allowed_values() -> None:
    with pytest.raises(BackendError, match=r"'inotify'.*argument.*auto, watchman, builtin"):
        requested_name("inotify", {"RELOADD_BACKEND": "builtin"})


def test_unknown_environment_value_names_the_variable() -> None:
    with pytest.raises(BackendError, match=r"'poll'.*RELOADD_BACKEND.*auto, watchman, builtin"):
        requested_name(None, {"RELOADD_BACKEND": "poll"})


def test_unknown_name_is_raised_by_choose_backend(choose: Callable[..., Backend]) -> None:
    with pytest.raises(BackendError, match="unknown watch backend"):
        choose("fsevents", env={})


def test_builtin_by_argument(
    choose: Callable[..., Backend], no_watchman: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="reloadd.daemon.backends"):
        backend = choose("builtin", watchman_sock=no_watchman, env={})
    assert isinstance(backend, BUILTIN)
    assert backend.name == "builtin"
    assert [r.levelno for r in caplog.records] == [logging.INFO]
    assert "built-in watcher" in caplog.text


def test_builtin_by_environment(choose: Callable[..., Backend], no_watchman: str) -> None:
    backend = choose(None, watchman_sock=no_watchman, env={"RELOADD_BACKEND": "builtin"})
    assert isinstance(backend, BUILTIN)


def test_auto_falls_back_to_builtin_with_one_warning(
    choose: Callable[..., Backend], no_watchman: str, caplog: pytest.LogCaptureFixture
) -> None:
    pytest.importorskip("reloadd.daemon.backends.watchman")
    with caplog.at_level(logging.INFO, logger="reloadd"):
        # WATCHMAN_SOCK is inherited, not named by the user: auto may fall back from it.
        backend = choose(None, env={"WATCHMAN_SOCK": no_watchman})
    assert isinstance(backend, BUILTIN)
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1, caplog.text
    message = warnings[0].getMessage()
    assert "Watchman is not usable" in message
    assert "built-in watcher" in message
    assert no_watchman in message  # the reason says where it looked
    assert any(
        r.levelno == logging.INFO and "built-in watcher" in r.getMessage() for r in caplog.records
    )


def test_watchman_by_name_raises_when_unusable(
    choose: Callable[..., Backend], no_watchman: str, caplog: pytest.LogCaptureFixture
) -> None:
    pytest.importorskip("reloadd.daemon.backends.watchman")
    with pytest.raises(WatchmanUnavailable):
        choose("watchman", watchman_sock=no_watchman, env={})
    with pytest.raises(WatchmanUnavailable):
        choose(None, watchman_sock=no_watchman, env={"RELOADD_BACKEND": "watchman"})
    assert not [r for r in caplog.records if "built-in" in r.getMessage()]


@pytest.mark.parametrize("requested", [None, "auto", "watchman"])
def test_a_named_watchman_socket_that_does_not_answer_is_an_error(
    choose: Callable[..., Backend],
    no_watchman: str,
    caplog: pytest.LogCaptureFixture,
    requested: str | None,
) -> None:
    pytest.importorskip("reloadd.daemon.backends.watchman")
    with pytest.raises(WatchmanUnavailable) as raised:
        choose(requested, watchman_sock=no_watchman, env={})
    message = str(raised.value)
    assert "\n" not in message
    assert f"--watchman-sock {no_watchman}" in message
    assert "start Watchman there" in message
    assert not [r for r in caplog.records if "built-in" in r.getMessage()]


def test_a_named_watchman_socket_is_not_needed_by_the_builtin_watcher(
    choose: Callable[..., Backend], no_watchman: str
) -> None:
    assert isinstance(choose("builtin", watchman_sock=no_watchman, env={}), BUILTIN)
