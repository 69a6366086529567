"""Shared fixtures: a clean environment for every test, and the private Watchman."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.daemon_process import (  # noqa: F401  (fixture)
    daemon_factory,
    stop_daemons_of_environment,
    stop_leftover_daemons,
    stop_spawned_daemons,
)
from tests.watchman_instance import private_watchman, watchman  # noqa: F401  (fixtures)

_LEAKY_VARIABLES = (
    "WATCHMAN_SOCK",
    "XDG_RUNTIME_DIR",
    "XDG_STATE_HOME",
    "XDG_CONFIG_HOME",
    "NOTIFY_SOCKET",
    "WATCHDOG_USEC",
    "WATCHDOG_PID",
    "LISTEN_FDS",
    "LISTEN_PID",
    "JOURNAL_STREAM",
)


@pytest.fixture(autouse=True)
def clean_environment(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Iterator[None]:
    """Keep the developer's Watchman, runtime folder and reloadd settings out of every test.

    Each test gets its own private runtime and state folders, so endpoints never collide.
    """
    for name in list(os.environ):
        if name in _LEAKY_VARIABLES or name.startswith("RELOADD_"):
            monkeypatch.delenv(name)
    # A short base keeps ipc socket paths under the 107-byte limit of AF_UNIX.
    base = Path(tmp_path_factory.mktemp("env", numbered=True))
    runtime = base / "run"
    runtime.mkdir(mode=0o700)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
    monkeypatch.setenv("XDG_STATE_HOME", str(base / "state"))
    # Where `reloadd service` writes units, and clients look for one, and the keys of
    # network endpoints (reloadd keys): the test's own, never ~/.config.
    monkeypatch.setenv("XDG_CONFIG_HOME", str(base / "config"))
    # The fallback runtime folder ($TMPDIR/reloadd-<uid>) is private to the test too.
    temp = base / "tmp"
    temp.mkdir(mode=0o700)
    monkeypatch.setenv("TMPDIR", str(temp))
    # A daemon that a client starts on demand must never reach the user's own Watchman
    # (pywatchman's discovery would even start one): tests that want Watchman name theirs.
    monkeypatch.setenv("RELOADD_BACKEND", "builtin")
    yield
    # Daemons that clients spawned on demand are stopped here, by the pid in their lock file,
    # and by the pid this process started them with (a test may have removed the lock file).
    stop_leftover_daemons(runtime / "reloadd")
    stop_leftover_daemons(temp / f"reloadd-{os.getuid()}")
    stop_spawned_daemons()
    stop_daemons_of_environment(runtime)
