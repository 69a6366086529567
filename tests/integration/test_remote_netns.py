"""A network endpoint across two network namespaces: the daemon in one, dev servers in the other.

Real processes, a real veth link, real CurveZMQ. The client registers paths that do not
exist here (``/app-…``) mapped to the project's, so every notification it reports came
from the daemon through the link (its own polling cannot see those paths).
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.daemon_process import DaemonProcess
from tests.integration.netns import GUEST_ADDRESS, HOST_ADDRESS, NetnsPair
from tests.integration.remote_setup import (
    ClientProcess,
    Keys,
    NetworkDaemon,
    make_keys,
    remote_environment,
)
from tests.net import free_port

PLAINTEXT_HELLO = textwrap.dedent(
    """
    import os, sys, zmq
    from reloadd.protocol import Hello, PROTOCOL_VERSION, encode
    context = zmq.Context()
    socket = context.socket(zmq.DEALER)
    socket.linger = 0
    socket.connect(sys.argv[1])
    socket.send(encode(Hello(id=1, protocol=PROTOCOL_VERSION, name="plain", pid=os.getpid())))
    print("answered" if socket.poll(3000) else "no answer", flush=True)
    socket.close()
    context.term()
    """
)


@pytest.fixture
def app() -> str:
    """A client-side folder that does not exist on this file system."""
    return f"/app-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def network_daemon(
    netns: NetnsPair,
    project: Path,
    tmp_path: Path,
    daemon_factory: list[DaemonProcess],
) -> Iterator[tuple[NetworkDaemon, Keys, str]]:
    """A daemon for ``project`` in the host namespace, listening on the veth's address."""
    keys = make_keys(tmp_path / "keys")
    address = f"tcp://{HOST_ADDRESS}:{free_port()}"
    daemon = NetworkDaemon(
        project,
        listen=address,
        log_path=tmp_path / "daemon.log",
        prefix=netns.inside(netns.host, []),
        grace=60.0,  # longer than any cut here: a reconnecting client takes its registration back
    )
    daemon_factory.append(daemon)
    daemon.start()
    daemon.wait_for_log(f"listening on {address}")
    yield daemon, keys, address
    daemon.stop()


def start_guest_client(
    netns: NetnsPair,
    project: Path,
    app: str,
    address: str,
    server_key: Path,
    client_key: Path,
    log_path: Path,
) -> ClientProcess:
    """A client in the guest namespace registering ``APP/views.py`` with ``APP=project``."""
    env = remote_environment(address, server_key, client_key, f"{app}={project}")
    return ClientProcess.start(
        project, [f"{app}/views.py"], env, log_path, prefix=netns.inside(netns.guest, [])
    )


def test_an_allowed_key_is_served_and_an_unknown_key_and_plaintext_are_refused(
    netns: NetnsPair,
    network_daemon: tuple[NetworkDaemon, Keys, str],
    project: Path,
    app: str,
    tmp_path: Path,
    client_processes: list[ClientProcess],
) -> None:
    daemon, keys, address = network_daemon
    (project / "views.py").write_text("A = 1\n")
    web = start_guest_client(
        netns, project, app, address, keys.server, keys.allowed, tmp_path / "web.log"
    )
    client_processes.append(web)
    web.expect(lambda line: line.get("watching") == 1, "its registration")
    assert web.seen[-1]["state"] == "registered", web.stderr()
    daemon.wait_for_log("over the network with key web")

    (project / "views.py").write_text("A = 2\n")
    told = web.expect(lambda line: "changed" in line, "the edit")
    assert told["changed"] == [f"{app}/views.py"]

    intruder = start_guest_client(
        netns, project, app, address, keys.server, keys.refused, tmp_path / "intruder.log"
    )
    client_processes.append(intruder)
    intruder.expect(lambda line: line.get("state") == "polling", "falling back to polling")
    assert "refused this client" in intruder.stderr()
    daemon.wait_for_log(f"refused a client at {GUEST_ADDRESS}")

    plaintext = subprocess.run(
        netns.inside(netns.guest, [sys.executable, "-c", PLAINTEXT_HELLO, address]),
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert plaintext.stdout.strip() == "no answer", plaintext.stderr

    (project / "views.py").write_text("A = 3\n")
    told = web.expect(lambda line: "changed" in line, "the edit made after the refusals")
    assert told == {"changed": [f"{app}/views.py"], "state": "registered"}
    assert daemon.log().count(f"refused a client at {GUEST_ADDRESS}") == 1


def test_an_edit_made_while_the_link_is_down_arrives_after_reconnection(
    netns: NetnsPair,
    network_daemon: tuple[NetworkDaemon, Keys, str],
    project: Path,
    app: str,
    tmp_path: Path,
    client_processes: list[ClientProcess],
) -> None:
    daemon, keys, address = network_daemon
    (project / "views.py").write_text("A = 1\n")
    web = start_guest_client(
        netns, project, app, address, keys.server, keys.allowed, tmp_path / "web.log"
    )
    client_processes.append(web)
    web.expect(lambda line: line.get("watching") == 1, "its registration")

    netns.cut()
    # Both ends notice the silent link by themselves, within seconds.
    web.expect(lambda line: line.get("state") == "polling", "the link going down")
    daemon.wait_for_log("over the network with key web) was silent", timeout=30)
    (project / "views.py").write_text("A = 2\n")
    netns.mend()

    told = web.expect(lambda line: "changed" in line, "the edit made while cut off", timeout=60)
    assert told == {"changed": [f"{app}/views.py"], "state": "registered"}
    assert "is back; stopped polling" in web.stderr()
    assert "over the network with key web) is back; it keeps its registration" in daemon.log()
