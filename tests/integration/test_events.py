"""The event stream, end to end: a real daemon, ``reloadd events --json`` and ``Client.events()``."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from reloadd.client import Client, Crash, Role, ServerState, State
from reloadd.client.events import ChangedEvent, ClientJoined, Resubscribed, StateChanged, as_json
from reloadd.daemon.server import HEARTBEAT, SILENCE_LIMIT
from tests.daemon_process import DaemonProcess
from tests.integration.events_helpers import (
    EVENT_TIMEOUT,
    EventsProcess,
    next_event,
    replace_atomically,
    state_round_trip,
    summary,
)
from tests.integration.helpers import NOTIFY_TIMEOUT


@pytest.fixture
def backend_name() -> str:
    """The stream is the daemon's, not the watcher's: the built-in watcher suffices."""
    return "builtin"


def test_two_consumers_see_the_same_events_in_order(project: Path, daemon: DaemonProcess) -> None:
    app = project / "app.py"
    app.write_text("x = 1\n")
    with Client(project, name="web", spawn=False) as web:
        web.watch(files=[app])
        cli = EventsProcess(project, "--json")
        with Client(project, name="plugin", role=Role.TOOL, spawn=False) as plugin:
            events = plugin.events(timeout=EVENT_TIMEOUT)
            # Both start with the snapshot: the dev server that is already connected.
            assert summary(as_json(next_event(events))) == ("client-joined", "web")
            first = cli.next_json()
            assert summary(first) == ("client-joined", "web")
            assert (first["role"], first["pid"]) == ("server", os.getpid())

            replace_atomically(app, "x = 2\n")
            assert web.wait(timeout=NOTIFY_TIMEOUT) == [app]
            web.report_state(ServerState.READY)
            state_round_trip(web)
            with Client(project, name="vim", role=Role.EDITOR, spawn=False) as vim:
                vim.saved([project / "notes.txt"])  # registered by no one: a save, no change
            expected = [
                ("changed", "web"),
                ("state", "web"),
                ("client-joined", "vim"),
                ("saved", "vim"),
                ("client-left", "vim"),
            ]
            from_api = [as_json(next_event(events)) for _ in expected]
            from_cli = [cli.next_json() for _ in expected]
    status, stderr = cli.interrupt()
    assert [summary(event) for event in from_api] == expected
    assert from_cli == from_api
    changed, ready, _, saved, _ = from_cli
    assert changed["paths"] == [str(app)]
    assert ready["state"] == "ready"
    assert isinstance(ready["duration_ms"], int)
    assert saved["paths"] == [str(project / "notes.txt")]
    # Ctrl-C ends it quietly, with status 0.
    assert (status, stderr) == (0, "")


def test_a_crash_is_shown_with_its_place_until_ready(project: Path, daemon: DaemonProcess) -> None:
    views = project / "app" / "views.py"
    with Client(project, name="web", spawn=False) as web:
        web.report_state(ServerState.CRASHED, error=Crash("SyntaxError", "bad", str(views), 12))
        state_round_trip(web)
        # A late reader gets the crash in the snapshot, then what follows.
        cli = EventsProcess(project)
        assert cli.next_line().split(" ", 1)[1] == f"web joined (server, pid {os.getpid()})\n"
        assert cli.next_line().split(" ", 1)[1] == (
            "web crashed: SyntaxError at app/views.py:12: bad\n"
        )
        web.report_state(ServerState.READY, duration_ms=430)
        assert cli.next_line().split(" ", 1)[1] == "web ready in 430 ms\n"
    assert cli.next_line().split(" ", 1)[1] == f"web left (server, pid {os.getpid()})\n"
    assert cli.interrupt() == (0, "")


def test_a_subscriber_subscribes_again_after_the_daemon_restarts(
    project: Path, daemon: DaemonProcess, daemon_factory: list[DaemonProcess], tmp_path: Path
) -> None:
    with Client(project, name="plugin", role=Role.TOOL, spawn=False) as plugin:
        events = plugin.events(timeout=EVENT_TIMEOUT)
        with Client(project, name="web", spawn=False) as web:
            web.report_state(ServerState.READY)
            assert isinstance(next_event(events), ClientJoined)
            assert isinstance(next_event(events), StateChanged)
        assert summary(as_json(next_event(events))) == ("client-left", "web")
        daemon.stop()
        again = DaemonProcess(project, backend="builtin", log_path=tmp_path / "again.log")
        daemon_factory.append(again)
        again.start()
        event = next_event(events)
        assert isinstance(event, Resubscribed)
        assert event.daemon_pid == again.pid
        # Then live events from the new daemon (its snapshot is empty: no client yet).
        with Client(project, name="worker", spawn=False):
            assert summary(as_json(next_event(events))) == ("client-joined", "worker")


def test_events_without_a_daemon_says_so(project: Path) -> None:
    cli = EventsProcess(project, "--json")
    status, stderr = cli.stop()
    assert status == 1
    assert stderr.startswith("reloadd: no daemon runs for ")


def test_a_dev_server_that_subscribes_keeps_its_notifications_and_heartbeats(
    project: Path, daemon: DaemonProcess
) -> None:
    app = project / "app.py"
    app.write_text("x = 1\n")
    with Client(project, name="web", spawn=False) as web:
        web.watch(files=[app])
        instance, connected_at = web.daemon.instance, web_connected_at(project)
        events = web.events(timeout=EVENT_TIMEOUT)  # subscribed (no one else: no snapshot)
        replace_atomically(app, "x = 2\n")
        # Busy for longer than the daemon's silence limit, events unread meanwhile: the
        # heartbeat thread keeps the connection (that duration is the scenario).
        time.sleep(SILENCE_LIMIT + HEARTBEAT)
        assert web.wait(timeout=NOTIFY_TIMEOUT) == [app]
        changed = next_event(events)
        assert isinstance(changed, ChangedEvent)
        assert changed.clients == ("web",)
        assert web.state is State.REGISTERED
        assert web.daemon.instance == instance
        assert web_connected_at(project) == connected_at, "the client connected again"
    assert "was silent" not in daemon.log()


def web_connected_at(project: Path) -> float:
    """When the daemon says "web" connected."""
    with Client(project, name="probe", role=Role.TOOL, spawn=False) as probe:
        (web,) = [c for c in probe.status().clients if c.name == "web"]
    return web.connected_at


def test_events_says_so_when_the_daemon_stops(project: Path, daemon: DaemonProcess) -> None:
    cli = EventsProcess(project)
    with Client(project, name="web", spawn=False):
        cli.line_with("web joined")
    daemon.stop()
    status, stderr = cli.stop()
    assert status == 1
    assert stderr.startswith(f"reloadd: the daemon for {project} stopped")
