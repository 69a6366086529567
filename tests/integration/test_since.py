"""``since``: an edit made after the process started is reported, a file written before is not.

A dev server registers with ``since`` set to its process's start, so that a file
saved while it imported is not missed. A file written just before the process
started (``scripts/demo.sh``'s reinstall rewrites the editable-install finder that
``site`` imports at start-up) was read by it as it is: no change. And answering
``since`` for a hostile glob must not freeze the daemon.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import zmq

from reloadd.client import Client, Role
from reloadd.protocol import PROTOCOL_VERSION, GlobSpec, Hello, Watch, Watching, decode, encode
from tests.daemon_process import STOP_TIMEOUT, DaemonProcess
from tests.integration.helpers import NOTIFY_TIMEOUT, QUIET_PERIOD, edit

TRIES = 5
"""Processes started right after a write, per test: each must see no change but the edit."""

CHILD = textwrap.dedent(
    """
    import site, sys, time
    from pathlib import Path

    site.addsitedir(sys.argv[1])  # imports the finder through its .pth, as at start-up
    from reloadd.client import Client, module_files, process_start_time

    since = process_start_time()
    project, go, edited = sys.argv[2], Path(sys.argv[3]), sys.argv[4]
    print("started", flush=True)
    deadline = time.monotonic() + 30
    while not go.exists() and time.monotonic() < deadline:  # "importing modules"
        time.sleep(0.005)
    with Client(project, name=f"child {go.name}", spawn=False) as client:
        client.watch(files=[*module_files(), edited], since=since)
        changed = set(client.wait(timeout=float(sys.argv[5])))
        changed |= set(client.wait(timeout=float(sys.argv[6])))
    print("changed:" + ",".join(sorted(map(str, changed))), flush=True)
    """
)

FINDER = "__editable___demo_0_1_finder"


def start_child(project: Path, sitedir: Path, go: Path, edited: Path) -> subprocess.Popen[str]:
    """The dev server stand-in, started at once (no wait)."""
    return subprocess.Popen(
        [
            sys.executable,
            "-c",
            CHILD,
            str(sitedir),
            str(project),
            str(go),
            str(edited),
            str(NOTIFY_TIMEOUT),
            str(QUIET_PERIOD),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_files_written_right_before_the_process_started_are_no_change(
    daemon: DaemonProcess, project: Path
) -> None:
    sitedir = project / "site-packages"
    sitedir.mkdir()
    (sitedir / "__editable__.demo-0.1.pth").write_text(f"import {FINDER}\n")
    finder = sitedir / f"{FINDER}.py"
    finder.write_text("MAPPING = {}\n")
    edited = project / "app.py"
    edited.write_text("VERSION = 1\n")
    # A first child makes the daemon watch the project, the library folders and sitedir.
    for attempt in range(TRIES + 1):
        go = project / f"go-{attempt}"
        finder.write_text(f"MAPPING = {{'demo': {attempt}}}\n")  # setup.sh's reinstall
        child = start_child(project, sitedir, go, edited)
        try:
            assert child.stdout is not None
            assert child.stdout.readline().strip() == "started", child.communicate()
            edit(edited, f"VERSION = {attempt}\n")  # an edit while the server imports
            go.touch()
            out, err = child.communicate(timeout=NOTIFY_TIMEOUT + 30)
        finally:
            if child.poll() is None:
                child.kill()
                child.wait()
        assert child.returncode == 0, err
        assert out.strip() == f"changed:{edited}", (attempt, out, err, daemon.log()[-3000:])


@pytest.mark.parametrize("backend_name", ["builtin"])
def test_a_hostile_glob_with_since_leaves_the_daemon_serving(
    daemon: DaemonProcess, project: Path
) -> None:
    # Nested folders, in which Path.glob's backtracking over 85 "**" never ends.
    folder = project / "tree"
    for depth in range(8):
        folder = folder / f"d{depth}"
        folder.mkdir(parents=True)
        (folder / "file.py").write_text("")
    hostile = "**/" * 85 + "x"
    context: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    sock = context.socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    try:
        sock.connect(daemon.endpoint.address)
        hello = Hello(id=1, protocol=PROTOCOL_VERSION, name="hostile", pid=os.getpid())
        sock.send(encode(hello))
        assert sock.poll(int(NOTIFY_TIMEOUT * 1000)), "no welcome"
        sock.recv()
        # The project is watched only from this watch on: since is answered by walking it.
        glob = GlobSpec(str(project / "tree"), hostile)
        sock.send(encode(Watch(id=2, globs=(glob,), since=time.time() - 60)))
        assert sock.poll(int(NOTIFY_TIMEOUT * 1000)), f"no reply; log:\n{daemon.log()[-2000:]}"
        reply = decode(sock.recv())
        assert isinstance(reply, Watching), reply
    finally:
        sock.close()
        context.term()
    # Everyone else is still served...
    with Client(project, name="probe", role=Role.TOOL, spawn=False) as probe:
        assert probe.status().pid == daemon.pid
    # ... and SIGTERM still stops it.
    assert daemon.process is not None
    daemon.process.send_signal(signal.SIGTERM)
    assert daemon.process.wait(STOP_TIMEOUT) == 0
