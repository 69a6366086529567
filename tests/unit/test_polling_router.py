"""The router: each root to the poller or to the wrapped backend; registrations followed."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path

import pytest

from reloadd.daemon.backends.base import Backend, ChangeBatch
from reloadd.daemon.backends.mounts import PollPolicy
from reloadd.daemon.backends.poller import Poller
from reloadd.daemon.backends.polling_router import PollingRouter, with_polling
from reloadd.daemon.registry import Registry
from reloadd.protocol import PROTOCOL_VERSION, BackendError, GlobSpec, Hello, Role


class RecordingBackend(Backend):
    """Records the roots it is asked to watch."""

    name = "recording"

    def __init__(self) -> None:
        super().__init__(lambda batch: None)
        self.roots: set[Path] = set()
        self.closed = False

    def start(self) -> None:
        """Nothing to start."""

    def watch_roots(
        self, roots: Iterable[Path], *, timeout: float, since: Mapping[Path, str] | None = None
    ) -> None:
        """Record them."""
        self.roots.update(roots)

    def watched_roots(self) -> frozenset[Path]:
        """What was recorded."""
        return frozenset(self.roots)

    def close(self) -> None:
        """Note it."""
        self.closed = True


@pytest.fixture
def folders(tmp_path: Path) -> tuple[Path, Path]:
    share, local = (tmp_path / "share").resolve(), (tmp_path / "local").resolve()
    share.mkdir()
    local.mkdir()
    return share, local


def router_for(share: Path, batches: list[ChangeBatch]) -> tuple[PollingRouter, RecordingBackend]:
    inner = RecordingBackend()
    policy = PollPolicy({"RELOADD_POLL_PATHS": str(share)}, mountinfo="")
    router = PollingRouter(
        inner, batches.append, poller=Poller(batches.append, interval=3600.0), policy=policy
    )
    return router, inner


def test_a_share_goes_to_the_poller_and_the_rest_to_the_backend(
    folders: tuple[Path, Path],
) -> None:
    share, local = folders
    router, inner = router_for(share, [])
    try:
        router.watch_roots([share, local], timeout=1)
        assert inner.roots == {local}
        assert router.polled_roots() == {share}
        assert router.watched_roots() == {share, local}
        assert router.name == "recording"
        router.watch_roots([share / "sub"], timeout=1)  # covered by the polled root
        assert inner.roots == {local}
    finally:
        router.close()
    assert inner.closed


def test_a_polled_root_resumed_with_a_clock_is_rescanned(folders: tuple[Path, Path]) -> None:
    share, _local = folders
    batches: list[ChangeBatch] = []
    router, _inner = router_for(share, batches)
    try:
        router.watch_roots([share], timeout=1, since={share: "c:1"})
        assert batches == [ChangeBatch(rescan_roots=frozenset({share}))]
    finally:
        router.close()


def test_registrations_below_a_polled_root_reach_the_poller(folders: tuple[Path, Path]) -> None:
    share, local = folders
    router, _inner = router_for(share, [])
    registry = Registry()
    registry.listen(router)
    try:
        router.watch_roots([share, local], timeout=1)
        (share / "app.py").write_text("x = 1\n")
        record = registry.add(
            b"c1",
            Hello(id=1, protocol=PROTOCOL_VERSION, name="web", pid=os.getpid(), role=Role.SERVER),
            now=0,
        )
        polled, elsewhere = str(share / "app.py"), str(local / "lib.py")
        glob = GlobSpec(str(share / "templates"), "**/*.html")
        registry.watch(record, {polled: polled, elsewhere: elsewhere}, {glob: glob.directory})
        router.poller._apply_queue()
        assert set(router.poller._files) == {polled}
        assert set(router.poller._globs) == {(glob.directory, "**/*.html")}
        registry.remove(b"c1")
        router.poller._apply_queue()
        assert router.poller._files == {}
        assert router.poller._globs == {}
    finally:
        router.close()


def test_a_bad_interval_is_refused_and_the_backend_closed() -> None:
    inner = RecordingBackend()
    with pytest.raises(BackendError, match="RELOADD_POLL_INTERVAL"):
        with_polling(inner, lambda batch: None, {"RELOADD_POLL_INTERVAL": "never"})
    assert inner.closed
