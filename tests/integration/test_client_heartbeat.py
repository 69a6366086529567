"""Heartbeats that do not depend on the application, and notifications sent in parts."""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

import pytest

from reloadd.client import Client, Role, State, VersionMismatch
from reloadd.daemon.server import HEARTBEAT, SILENCE_LIMIT
from reloadd.protocol import (
    PROTOCOL_VERSION,
    Changed,
    Error,
    ErrorCode,
    Hello,
    Message,
    Watch,
    Watching,
)
from tests.daemon_process import DaemonProcess
from tests.integration.helpers import QUIET_PERIOD, edit, expect_changes
from tests.integration.scripted_daemon import answer_pings, scripted_daemon, welcome


@pytest.fixture
def backend_name() -> str:
    """These tests are about the client's connection: the built-in watcher suffices."""
    return "builtin"


def web_client_info(project: Path) -> tuple[float, bool]:
    """When the daemon says the client "web" connected, and whether it is connected now."""
    with Client(project, name="probe", role=Role.TOOL, spawn=False) as probe:
        (web,) = [c for c in probe.status().clients if c.name == "web"]
    return web.connected_at, web.connected


def test_a_busy_application_gets_one_notification_and_keeps_its_connection(
    daemon: DaemonProcess, project: Path
) -> None:
    app = project / "app.py"
    app.write_text("x = 1\n")
    with Client(project, name="web", spawn=False) as client:
        client.watch(files=[app])
        instance = client.daemon.instance
        connected_at, _ = web_client_info(project)
        edit(app)
        # The application is busy (a long request, a breakpoint) and does not call wait()
        # for longer than both sides' silence limits: that duration is the scenario.
        time.sleep(SILENCE_LIMIT + HEARTBEAT)
        expect_changes(client, app)
        assert client.state is State.REGISTERED
        assert client.daemon.instance == instance
        assert web_client_info(project) == (connected_at, True), "the client connected again"
    assert "was silent" not in daemon.log()


def test_a_notification_in_parts_is_returned_whole(project: Path) -> None:
    a, b, c = (str(project / name) for name in ("a.py", "b.py", "c.py"))
    # The daemon sends the parts of one notification at once; the pause between them
    # stands for a part that is still on its way when the client reads the first.

    def script(message: Message) -> Sequence[Message | float | bytes]:
        if isinstance(message, Hello):
            return [welcome(message, project)]
        if isinstance(message, Watch):
            return [
                Watching(re=message.id, files=len(message.files), globs=0),
                Changed(paths=(a,), more=True),
                0.3,
                Changed(paths=(b,), more=True),
                0.3,
                Changed(paths=(c,)),
            ]
        return answer_pings(message)

    with scripted_daemon(project, script), Client(project, name="web", spawn=False) as client:
        assert client.backend == "scripted"
        client.watch(files=[a, b, c])
        assert sorted(map(str, client.wait(timeout=10))) == [a, b, c]
        assert client.wait(timeout=QUIET_PERIOD) == []


def test_a_daemon_of_another_protocol_version_raises_version_mismatch(
    project: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    def newer(message: Message) -> Sequence[Message | float | bytes]:
        return (
            [welcome(message, project, protocol=PROTOCOL_VERSION + 1)]
            if isinstance(message, Hello)
            else answer_pings(message)
        )

    def refusing(message: Message) -> Sequence[Message | float | bytes]:
        if isinstance(message, Hello):
            text = "this daemon speaks protocol 2; install the same reloadd version for both"
            return [Error(re=message.id, code=ErrorCode.VERSION_MISMATCH, message=text)]
        return answer_pings(message)

    for script in (newer, refusing):
        with scripted_daemon(project, script):
            with pytest.raises(VersionMismatch, match="same reloadd version"):
                Client(project, name="web", spawn=False)
            with Client(project, name="web") as client:  # may fall back: polls, says so
                assert client.state is State.POLLING
        err = capfd.readouterr().err.strip().splitlines()
        assert len(err) == 1, err
        assert "same reloadd version" in err[0]
