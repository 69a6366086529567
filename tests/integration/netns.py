"""Two network namespaces joined by a veth pair: a daemon's machine and a dev server's, for real.

``ip netns`` (iproute2) makes them; CI runs as root. The ``host`` namespace holds
:data:`HOST_ADDRESS`, the ``guest`` namespace :data:`GUEST_ADDRESS`; nothing else is
reachable from either. Processes are started inside with ``ip netns exec`` (which execs
the command, so the pid is the process's own) and stopped by pid. Names are unique per
test run and deleted at the end, which also removes the veth pair.

Files are shared (a mount namespace is not made): a client registers paths that do not
exist on this file system and maps them to the project's, so what it is told can only
have come from the daemon.
"""

from __future__ import annotations

import itertools
import os
import subprocess
from collections.abc import Iterator

import pytest

HOST_ADDRESS = "10.231.0.1"
GUEST_ADDRESS = "10.231.0.2"

_serial = itertools.count()


def ip(*args: str) -> None:
    """Run one ``ip`` command; a failure fails the test with its message."""
    done = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=30, check=False)
    if done.returncode != 0:
        pytest.fail(f"'ip {' '.join(args)}' failed: {done.stderr.strip()}")


class NetnsPair:
    """The two namespaces and the veth pair between them."""

    def __init__(self) -> None:
        tag = f"{os.getpid() % 100000}{next(_serial)}"
        self.host = f"rdh{tag}"
        self.guest = f"rdg{tag}"
        self.host_link = f"rvh{tag}"
        self.guest_link = f"rvg{tag}"

    def create(self) -> NetnsPair:
        """Make both namespaces, the veth pair, addresses and links up."""
        ip("netns", "add", self.host)
        ip("netns", "add", self.guest)
        ip("link", "add", self.host_link, "type", "veth", "peer", "name", self.guest_link)
        ip("link", "set", self.host_link, "netns", self.host)
        ip("link", "set", self.guest_link, "netns", self.guest)
        ip("-n", self.host, "addr", "add", f"{HOST_ADDRESS}/24", "dev", self.host_link)
        ip("-n", self.guest, "addr", "add", f"{GUEST_ADDRESS}/24", "dev", self.guest_link)
        for namespace, link in ((self.host, self.host_link), (self.guest, self.guest_link)):
            ip("-n", namespace, "link", "set", "lo", "up")
            ip("-n", namespace, "link", "set", link, "up")
        return self

    def inside(self, namespace: str, argv: list[str]) -> list[str]:
        """The command line that runs ``argv`` in ``namespace``."""
        return ["ip", "netns", "exec", namespace, *argv]

    def cut(self) -> None:
        """Take the guest's end of the link down: packets are lost, nobody is told."""
        ip("-n", self.guest, "link", "set", self.guest_link, "down")

    def mend(self) -> None:
        """Bring the guest's end back up."""
        ip("-n", self.guest, "link", "set", self.guest_link, "up")

    def delete(self) -> None:
        """Delete both namespaces (and with them the veth pair)."""
        for namespace in (self.host, self.guest):
            subprocess.run(["ip", "netns", "del", namespace], capture_output=True, check=False)


@pytest.fixture
def netns() -> Iterator[NetnsPair]:
    """A fresh pair of namespaces for one test, deleted after it."""
    pair = NetnsPair()
    try:
        yield pair.create()
    finally:
        pair.delete()
