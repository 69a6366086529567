"""A live daemon fuzzed with random and mutated frames while a real client keeps being notified.

CI runs it with the default budget (``FUZZ_FRAMES``, 20,000 frames). The longer run
documented in docs/performance.md::

    RELOADD_FUZZ_FRAMES=100000 .venv/bin/python -m pytest -m fuzz -s tests/integration/test_fuzz_daemon.py

``RELOADD_FUZZ_SEED`` replays a run (the seed is printed).
"""

from __future__ import annotations

import math
import os
import random
import time
from collections.abc import Iterator
from pathlib import Path

import msgpack
import pytest
import zmq

from reloadd.client import Client
from reloadd.protocol import Ping, Pong, ReloaddError, decode, encode
from reloadd.protocol.limits import MAX_MESSAGE_BYTES
from tests.daemon_process import DaemonProcess
from tests.integration.helpers import NOTIFY_TIMEOUT, edit
from tests.process_stats import open_fds, rss_bytes

pytestmark = pytest.mark.fuzz

FUZZ_FRAMES = int(os.environ.get("RELOADD_FUZZ_FRAMES", "20000"))
"""Frames sent in one run."""

FUZZ_SEED = int(os.environ.get("RELOADD_FUZZ_SEED", "0")) or random.randrange(1, 2**32)
"""The run's seed (read at import: the test environment clears ``RELOADD_*`` variables)."""

CHECK_EVERY = 2_000
"""Frames between two checks that the well-behaved client is still notified of an edit."""

SETTLE_TIMEOUT = 30.0
"""The longest the test waits for the daemon's memory and descriptors to come back down."""

SETTLED_RSS_GROWTH = 40 * 2**20
"""How much larger than before the daemon's RSS may stay once the fuzzing is over."""

SETTLED_FDS_GROWTH = 4
"""How many more descriptors than before the daemon may keep once the fuzzing is over."""

BARRIER_ID = 2**31 - 1
"""The ``id`` of the ping that closes a connection's run."""

BARRIER_TIMEOUT = 60.0
"""The longest the daemon may take to read what one connection sent."""

CONNECTIONS = 48
"""Fuzzing connections open at once (some replaced as the run goes)."""

ODD_NUMBERS: list[object] = [
    0,
    -1,
    1.5,
    2**31,
    2**31 - 1,
    2**32,
    2**63 - 1,
    -(2**63),
    2**64 - 1,
    math.nan,
    math.inf,
    -math.inf,
    True,
    None,
]

CLIENT_TYPES = ["hello", "watch", "unwatch", "saved", "status", "ping", "bye"]
DAEMON_TYPES = ["welcome", "watching", "changed", "noted", "status_reply", "pong", "stopping"]
# ``stop`` is left out: it is a valid request that ends the daemon.


@pytest.fixture
def backend_name() -> str:
    """The daemon is fuzzed, not the watcher: the built-in one suffices."""
    return "builtin"


class Fuzzer:
    """Builds frames: valid messages of every type, then mutated in their fields or bytes."""

    def __init__(self, rng: random.Random, project: Path) -> None:
        self.rng = rng
        self.folder = project / "fuzz"

    def path(self) -> str:
        """A path inside the project (a watch outside it would watch arbitrary folders)."""
        return str(self.folder / f"d{self.rng.randrange(20)}" / f"f{self.rng.randrange(500)}.py")

    def valid(self, kind: str) -> dict[str, object]:
        """A well-formed message of type ``kind``."""
        rng = self.rng
        fields: dict[str, object] = {"type": kind, "id": rng.randrange(1, 10_000)}
        if kind == "hello":
            fields |= {
                "protocol": 1,
                "name": f"fuzz{rng.randrange(40)}",
                "pid": rng.choice([os.getpid(), rng.randrange(1, 4_000_000)]),
                "role": rng.choice(["server", "editor", "tool"]),
            }
        elif kind in ("watch", "unwatch"):
            fields["files"] = [self.path() for _ in range(rng.randrange(5))]
            fields["globs"] = [
                [str(self.folder), rng.choice(["*.py", "**/*.html", "d1/**/x*", "*"])]
                for _ in range(rng.randrange(3))
            ]
            if kind == "watch":
                fields["since"] = rng.choice([0.0, time.time() - 5, time.time()])
                fields["unchanged"] = rng.random() < 0.1
        elif kind == "saved":
            fields["paths"] = [self.path() for _ in range(rng.randrange(1, 5))]
        elif kind in DAEMON_TYPES:
            fields = {"type": kind, "re": rng.randrange(10_000), "paths": [self.path()]}
        return fields

    def odd_value(self, depth: int = 0) -> object:
        """A value of the wrong type, size, depth or range."""
        rng = self.rng
        choice = rng.randrange(9)
        if choice == 0:
            return rng.choice(ODD_NUMBERS)
        if choice == 1:
            return "x" * rng.choice([0, 257, 4097, 100_000, 1_000_000])
        if choice == 2:
            nested: object = rng.choice(["server", 1, None])
            for _ in range(rng.choice([2, 50, 200, 1000])):
                nested = [nested] if rng.random() < 0.5 else {"k": nested}
            return nested
        if choice == 3:
            return [rng.choice(ODD_NUMBERS)] * rng.choice([1, 1000, 60_000])
        if choice == 4:
            return {str(i): i for i in range(rng.choice([1, 100, 5000]))}
        if choice == 5:
            return bytes(rng.randrange(256) for _ in range(rng.randrange(64)))
        if choice == 6:
            return msgpack.ExtType(rng.randrange(128), b"x")
        if choice == 7:
            return ["relative/path", "/a\0b", "", "/" * 5000][rng.randrange(4)]
        return [self.odd_value(depth + 1) for _ in range(3)] if depth < 3 else "deep"

    def frames(self) -> list[bytes]:
        """One message's frames: valid, field-mutated, byte-mutated, random or multi-frame."""
        rng = self.rng
        kind = rng.choice(CLIENT_TYPES + DAEMON_TYPES + ["exec", ""])
        fields = self.valid(kind)
        how = rng.randrange(10)
        if how <= 2:  # every numeric field, and others, given odd values
            for name in list(fields):
                if name != "type" and rng.random() < 0.5:
                    fields[name] = self.odd_value()
            if rng.random() < 0.2:
                fields[f"unknown{rng.randrange(3)}"] = self.odd_value()
        data = _pack(fields)
        if (
            how == 3 and kind != "watch"
        ):  # flipped bytes (never in a watch: its paths would leave the project)
            mutated = bytearray(data)
            for _ in range(rng.randrange(1, 4)):
                mutated[rng.randrange(len(mutated))] = rng.randrange(256)
            data = bytes(mutated)
        elif how == 4:
            data = data[: rng.randrange(len(data) + 1)]
        elif how == 5:
            data = bytes(rng.randrange(256) for _ in range(rng.randrange(200)))
        elif how == 6:
            return [data, *(b"extra" for _ in range(rng.randrange(1, 4)))]
        return [data]


def _pack(fields: dict[str, object]) -> bytes:
    try:
        data: bytes = msgpack.packb(fields)
    except (OverflowError, ValueError, TypeError):  # 2**64 and above: not msgpack
        fields = {k: (0 if isinstance(v, int) and v >= 2**64 else v) for k, v in fields.items()}
        data = msgpack.packb(fields)
    return data[: 2 * MAX_MESSAGE_BYTES - 1]


class Connections:
    """A pool of raw DEALER sockets to the daemon, some replaced as the run goes."""

    def __init__(self, daemon: DaemonProcess, rng: random.Random) -> None:
        self.context: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
        self.address = daemon.endpoint.address
        self.rng = rng
        self.opened = 0
        self.throttled = 0
        self.pool = [self._open() for _ in range(CONNECTIONS)]

    def _open(self) -> zmq.Socket[bytes]:
        sock = self.context.socket(zmq.DEALER)
        sock.setsockopt(zmq.LINGER, 0)
        sock.setsockopt(zmq.SNDTIMEO, 5000)
        sock.connect(self.address)
        self.opened += 1
        return sock

    def send(self, frames: list[bytes]) -> None:
        """Send on a random connection; read what it was answered meanwhile; now and then
        replace a connection."""
        index = self.rng.randrange(len(self.pool))
        sock = self.pool[index]
        try:
            sock.send_multipart(frames)
        except zmq.Again:  # the daemon reads no further ahead from this connection
            self.throttled += 1
        while sock.poll(0):
            sock.recv_multipart()
        if self.rng.random() < 0.01:
            self.barrier(sock)
            sock.close(linger=0)
            self.pool[index] = self._open()

    def barrier(self, sock: zmq.Socket[bytes]) -> None:
        """Wait until the daemon has read everything sent on ``sock`` (its ``pong`` to a last
        ``ping`` comes after every earlier reply)."""
        sock.send(encode(Ping(id=BARRIER_ID)))
        deadline = time.monotonic() + BARRIER_TIMEOUT
        while True:
            remaining_ms = int((deadline - time.monotonic()) * 1000)
            assert remaining_ms > 0, "no pong to the last ping in time"
            assert sock.poll(remaining_ms), "no pong to the last ping in time"
            frames = sock.recv_multipart()
            try:
                reply = decode(frames[-1])
            except ReloaddError:
                continue
            if isinstance(reply, Pong) and reply.re == BARRIER_ID:
                return

    def drain_all(self) -> None:
        """Wait until the daemon has read every frame sent on every open connection."""
        for sock in self.pool:
            self.barrier(sock)

    def close(self) -> None:
        """Close every socket and the context (again: nothing)."""
        for sock in self.pool:
            sock.close(linger=0)
        self.pool = []
        if not self.context.closed:
            self.context.term()


@pytest.fixture
def connections(daemon: DaemonProcess) -> Iterator[Connections]:
    """The fuzzing connections, closed after the test."""
    print(f"fuzz seed {FUZZ_SEED} (RELOADD_FUZZ_SEED={FUZZ_SEED} replays it)")
    pool = Connections(daemon, random.Random(FUZZ_SEED))
    yield pool
    pool.close()


def test_fuzzed_daemon_keeps_serving(
    daemon: DaemonProcess, project: Path, connections: Connections
) -> None:
    fuzzer = Fuzzer(connections.rng, project)
    app = project / "app.py"
    app.write_text("x = 1\n")
    with Client(project, name="web", spawn=False) as web:
        web.watch(files=[app])
        rss_before, fds_before = rss_bytes(daemon.pid), open_fds(daemon.pid)
        rss_peak = rss_before
        started = time.monotonic()
        told = 0
        for sent in range(1, FUZZ_FRAMES + 1):
            connections.send(fuzzer.frames())
            if sent % CHECK_EVERY == 0 or sent == FUZZ_FRAMES:
                assert daemon.process is not None
                assert daemon.process.poll() is None, daemon.log()[-5000:]
                rss_peak = max(rss_peak, rss_bytes(daemon.pid))
                edit(app)
                deadline = time.monotonic() + NOTIFY_TIMEOUT
                while app not in web.wait(timeout=max(0.0, deadline - time.monotonic())):
                    assert time.monotonic() < deadline, f"not told of an edit after {sent} frames"
                told += 1
        connections.drain_all()
        elapsed = time.monotonic() - started
        connections.close()
        # Once the fuzzing connections are gone, memory and descriptors come back down.
        deadline = time.monotonic() + SETTLE_TIMEOUT
        while (rss := rss_bytes(daemon.pid)) > rss_before + SETTLED_RSS_GROWTH or (
            fds := open_fds(daemon.pid)
        ) > fds_before + SETTLED_FDS_GROWTH:
            assert time.monotonic() < deadline, (
                f"still {rss / 2**20:.1f} MB (from {rss_before / 2**20:.1f}) and {fds} fds "
                f"(from {fds_before}) {SETTLE_TIMEOUT} s after the fuzzing"
            )
            web.wait(timeout=0.2)  # keeps the client's heartbeat going meanwhile
        status = web.status()
    print(
        f"{FUZZ_FRAMES} frames on {connections.opened} connections in {elapsed:.1f} s "
        f"({connections.throttled} held back by the daemon's read-ahead limit); the client "
        f"was told of {told} edits; daemon RSS {rss_before / 2**20:.1f} MB before, "
        f"{rss_peak / 2**20:.1f} MB at most while fuzzed, {rss / 2**20:.1f} MB after; fds "
        f"{fds_before} before, {fds} after; log {len(daemon.log()) / 1000:.0f} kB"
    )
    assert status.root == str(project)
    assert daemon.process is not None
    assert daemon.process.poll() is None
