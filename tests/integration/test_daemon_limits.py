"""Inputs that used to kill, freeze or bloat the daemon: it answers, stays bounded, serves on."""

from __future__ import annotations

import os
import time
from pathlib import Path

import msgpack
import pytest
import zmq

from reloadd.client import Client, RequestRejected
from reloadd.protocol import (
    Changed,
    Error,
    ErrorCode,
    GlobSpec,
    Watch,
    Welcome,
    decode,
    encode,
)
from reloadd.protocol.limits import (
    MAX_FILES_PER_CLIENT,
    MAX_FILES_TOTAL,
    MAX_MESSAGE_BYTES,
    MAX_PATHS_PER_MESSAGE,
    MAX_QUEUED_BYTES_PER_CLIENT,
)
from tests.daemon_process import DaemonProcess
from tests.integration.helpers import NOTIFY_TIMEOUT, edit, expect_changes
from tests.integration.raw_client import RawSockets, ask, hello, still_serving
from tests.process_stats import rss_bytes

MB = 1024 * 1024


@pytest.fixture
def backend_name() -> str:
    """These tests are about the daemon, not the watcher: the built-in one suffices."""
    return "builtin"


def long_path_files(base: Path, count: int, length: int) -> list[Path]:
    """``count`` files in one folder whose absolute paths are ``length`` characters long."""
    folder = base
    while len(str(folder)) < length - 200:
        folder = folder / ("d" * min(250, length - 200 - len(str(folder))))
    folder.mkdir(parents=True, exist_ok=True)
    stem = "f" * (length - len(str(folder)) - 10)
    files = [folder / f"{stem}{i:06d}.py" for i in range(count)]
    for path in files:
        path.write_bytes(b"")
    assert all(len(str(path)) == length for path in files)
    return files


def test_a_hello_with_a_huge_pid_does_not_kill_the_daemon(
    daemon: DaemonProcess, project: Path, raw_sockets: RawSockets
) -> None:
    for pid in (2**31, 2**63 - 1):
        sock = raw_sockets.connect(daemon)
        reply = ask(
            sock, msgpack.packb({"type": "hello", "id": 1, "protocol": 1, "name": "x", "pid": pid})
        )
        assert isinstance(reply, (Welcome, Error))
    # Housekeeping checks every client's pid once a second.
    deadline = time.monotonic() + 3.0
    while time.monotonic() < deadline:
        assert daemon.process is not None
        assert daemon.process.poll() is None, daemon.log()
        still_serving(project)


def test_a_deeply_nested_field_gets_an_error_reply(
    daemon: DaemonProcess, project: Path, raw_sockets: RawSockets
) -> None:
    role: object = "server"
    for _ in range(1000):
        role = [role]
    sock = raw_sockets.connect(daemon)
    data = msgpack.packb(
        {"type": "hello", "id": 3, "protocol": 1, "name": "x", "pid": os.getpid(), "role": role}
    )
    reply = ask(sock, data)
    assert isinstance(reply, Error)
    assert reply.code is ErrorCode.LIMIT_EXCEEDED, reply
    assert reply.re == 3
    assert "MAX_NESTING_DEPTH" in reply.message
    still_serving(project)


def test_a_notification_over_the_size_limit_comes_in_parts(
    daemon: DaemonProcess, project: Path, tmp_path: Path
) -> None:
    since = time.time() - 1.0
    files = long_path_files(tmp_path / "elsewhere", 2400, 3700)
    assert sum(len(str(path)) for path in files) > MAX_MESSAGE_BYTES
    (app,) = [project / "app.py"]
    app.write_text("x = 1\n")
    with (
        Client(project, name="deep", spawn=False) as deep,
        Client(project, name="web", spawn=False) as web,
    ):
        web.watch(files=[app])
        # A folder watched only now: its files written after ``since`` changed since.
        deep.watch(globs=[(files[0].parent, "*.py")], since=since)
        changed = deep.wait(timeout=NOTIFY_TIMEOUT)
        assert sorted(changed) == sorted(files), "every part of the burst, gathered by wait()"
        edit(app)
        expect_changes(web, app)
    still_serving(project)


def test_parts_of_a_split_notification_each_fit(
    daemon: DaemonProcess, project: Path, tmp_path: Path, raw_sockets: RawSockets
) -> None:
    since = time.time() - 1.0
    files = long_path_files(tmp_path / "elsewhere", 2400, 3700)
    sock = raw_sockets.connect(daemon)
    assert isinstance(hello(sock), Welcome)
    directory = str(files[0].parent)
    sock.send(encode(Watch(id=2, globs=(GlobSpec(directory, "*.py"),), since=since)))
    parts: list[Changed] = []
    deadline = time.monotonic() + NOTIFY_TIMEOUT
    while not parts or parts[-1].more:
        assert sock.poll(max(0, int((deadline - time.monotonic()) * 1000))), "no (last) part"
        data = sock.recv()
        assert len(data) <= MAX_MESSAGE_BYTES
        message = decode(data)
        if isinstance(message, Changed):
            parts.append(message)
    assert len(parts) >= 2
    assert [part.more for part in parts] == [True] * (len(parts) - 1) + [False]
    assert sorted(p for part in parts for p in part.paths) == sorted(map(str, files))


def test_a_client_that_never_reads_does_not_bloat_the_daemon(
    daemon: DaemonProcess, project: Path, tmp_path: Path, raw_sockets: RawSockets
) -> None:
    files = long_path_files(project / "deep", 2000, 3700)
    burst = sum(len(str(path)) for path in files)  # ~7.4 MB per notification
    (app,) = [project / "app.py"]
    app.write_text("x = 1\n")
    slow = raw_sockets.context.socket(zmq.DEALER)
    slow.setsockopt(zmq.LINGER, 0)
    slow.setsockopt(zmq.RCVHWM, 1)
    slow.setsockopt(zmq.RCVBUF, 4096)
    slow.connect(daemon.endpoint.address)
    raw_sockets.sockets.append(slow)
    assert isinstance(hello(slow), Welcome)
    directory = str(files[0].parent)
    ask(slow, encode(Watch(id=2, globs=(GlobSpec(directory, "*.py"),))))
    before = rss_bytes(daemon.pid)
    rounds = 40  # 300 MB of notifications for the slow client
    with (
        Client(project, name="web", spawn=False) as web,
        Client(project, name="editor", spawn=False) as editor,
    ):
        web.watch(files=[app])
        for round_ in range(rounds):
            stamp = time.time_ns() + round_
            for path in files:
                os.utime(path, ns=(stamp, stamp))
            for start in range(0, len(files), MAX_PATHS_PER_MESSAGE):
                editor.saved(files[start : start + MAX_PATHS_PER_MESSAGE])
        peak = rss_bytes(daemon.pid)
        edit(app)
        expect_changes(web, app)
    grew = peak - before
    assert grew < MAX_QUEUED_BYTES_PER_CLIENT + 3 * burst + 40 * MB, (
        f"the daemon grew by {grew / MB:.0f} MB for a client that never reads"
    )
    # Once it leaves (and its grace period is over), the memory held for it is released.
    slow.send(msgpack.packb({"type": "bye"}))
    daemon.wait_for_log("forgot raw", timeout=20.0)
    # What the daemon already handed to ZeroMQ for it stays queued while it is connected:
    # leaving is also closing the connection. The daemon frees it soon after, not at once.
    slow.close(linger=0)
    deadline = time.monotonic() + 20.0
    while (after := rss_bytes(daemon.pid)) >= before + 30 * MB and time.monotonic() < deadline:
        time.sleep(0.1)  # polls the daemon's RSS: nothing else says the memory was freed
    print(
        f"daemon RSS: {before / MB:.1f} MB before, {peak / MB:.1f} MB with a client that never "
        f"reads ({rounds} bursts of {burst / MB:.1f} MB), {after / MB:.1f} MB after it left"
    )
    assert after < before + 30 * MB
    still_serving(project)


def test_files_across_clients_are_capped(
    daemon: DaemonProcess, project: Path, raw_sockets: RawSockets
) -> None:
    paths = [str(project / f"f{i}.py") for i in range(MAX_FILES_PER_CLIENT)]
    batches = [
        msgpack.packb(
            {"type": "watch", "id": 10 + n, "files": paths[n : n + MAX_PATHS_PER_MESSAGE]}
        )
        for n in range(0, len(paths), MAX_PATHS_PER_MESSAGE)
    ]
    clients_at_the_cap = MAX_FILES_TOTAL // MAX_FILES_PER_CLIENT
    for _ in range(clients_at_the_cap):
        sock = raw_sockets.connect(daemon)
        assert isinstance(hello(sock), Welcome)
        for data in batches:
            reply = ask(sock, data)
            assert not isinstance(reply, Error), reply
    with Client(project, name="one more", spawn=False) as client:
        with pytest.raises(RequestRejected, match="across its clients") as caught:
            client.watch(files=[project / "one-too-many.py"])
        assert caught.value.code == ErrorCode.LIMIT_EXCEEDED
    still_serving(project)


def test_bad_input_log_lines_are_rate_limited(
    daemon: DaemonProcess, project: Path, raw_sockets: RawSockets
) -> None:
    sock = raw_sockets.connect(daemon)
    assert isinstance(hello(sock), Welcome)
    bad = msgpack.packb({"type": "watch", "id": 5, "files": ["relative.py"]})
    for _ in range(300):
        reply = ask(sock, bad)
        assert isinstance(reply, Error)
        assert reply.code == ErrorCode.BAD_FIELD
    refused = daemon.log().count("refused a message from")
    assert 1 <= refused <= 10, f"{refused} log lines for 300 bad frames"
    # Once the window is over, the next line says how many were left out.
    deadline = time.monotonic() + 30.0
    while "similar lines from the same source left out" not in daemon.log():
        assert time.monotonic() < deadline, daemon.log()[-2000:]
        assert isinstance(ask(sock, bad), Error)
        time.sleep(0.5)  # polls the log; every pass sends one more bad frame, so not faster
    still_serving(project)
