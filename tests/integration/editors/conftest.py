"""Fixtures of the editor tests: a daemon on the built-in watcher, a dev server, its file."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from reloadd.client import Client
from tests.daemon_process import DaemonProcess


@pytest.fixture
def backend_name() -> str:
    """The built-in watcher only: what is tested is the editor's part (the backends'
    handling of saves is tested in test_save_report.py)."""
    return "builtin"


@pytest.fixture
def app(project: Path) -> Path:
    """A file of the project that the dev server registers, and the editor edits."""
    path = project / "app" / "views.py"
    path.parent.mkdir()
    path.write_text("def index():\n    return 'hello'\n")
    return path


@pytest.fixture
def web(daemon: DaemonProcess, app: Path) -> Iterator[Client]:
    """A dev server named ``web`` that registered ``app``."""
    with Client(daemon.root, name="web", spawn=False) as client:
        client.watch(files=[app])
        yield client
