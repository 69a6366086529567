"""Fixtures for integration tests: a project folder and a daemon on each backend."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.browser import browser  # noqa: F401  (fixture: a headless Chromium)
from tests.daemon_process import DaemonProcess
from tests.django_project import DevServer
from tests.integration.batches import batches  # noqa: F401  (fixture for backend tests)
from tests.integration.dev_server import runs, start_run  # noqa: F401  (dev-server fixtures)
from tests.integration.netns import netns  # noqa: F401  (fixture for network tests)
from tests.integration.raw_client import raw_sockets  # noqa: F401  (fixture for bad-input tests)
from tests.integration.remote_setup import client_processes  # noqa: F401  (fixture)
from tests.watchman_instance import WatchmanInstance


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """An empty project folder (with a pyproject.toml, so it is a root)."""
    root = tmp_path / "project"
    root.mkdir()
    (root / "pyproject.toml").write_text("[project]\nname = 'demo'\n")
    return root.resolve()


@pytest.fixture(params=["watchman", "builtin"])
def backend_name(request: pytest.FixtureRequest) -> str:
    """Each test that uses a daemon runs once per backend."""
    return str(request.param)


@pytest.fixture
def daemon(
    project: Path,
    backend_name: str,
    daemon_factory: list[DaemonProcess],
    tmp_path: Path,
    request: pytest.FixtureRequest,
) -> Iterator[DaemonProcess]:
    """A running ``reloadd serve`` for ``project`` on the backend under test."""
    watchman: WatchmanInstance | None = None
    if backend_name == "watchman":
        watchman = request.getfixturevalue("watchman")
    started = DaemonProcess(
        project,
        backend=backend_name,
        log_path=tmp_path / "daemon.log",
        watchman_sock=str(watchman.sockpath) if watchman else None,
    )
    daemon_factory.append(started)
    yield started.start()
    started.stop()
    if watchman is not None:
        # Each Watchman watch holds one of the user's 128 inotify instances: give it back.
        watchman.delete_watches_below(tmp_path)


@pytest.fixture
def servers() -> Iterator[list[DevServer]]:
    """Django dev servers to stop after the test: each one's process group, by its pid."""
    started: list[DevServer] = []
    yield started
    for server in started:
        server.stop()
