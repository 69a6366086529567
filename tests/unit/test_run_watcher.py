"""The watcher thread's hand-over to the main thread, with a stand-in for the daemon client."""

from __future__ import annotations

import os
import threading
from typing import Any, cast

from reloadd.client.connection import Client
from reloadd.client.run.watcher import Watcher, WatcherStopped

WAIT = 10.0


class SlowClient:
    """A client whose connection ends only when the test says so (a daemon that is slow to answer)."""

    def __init__(self, release: threading.Event) -> None:
        self.release = release
        self.backend = "builtin"
        self.restart_requested = False

    def __enter__(self) -> SlowClient:
        return self

    def __exit__(self, *exc: object) -> None:
        assert self.release.wait(WAIT)

    def watch(self, **kwargs: Any) -> None:
        pass

    def wait(self, timeout: float | None = None) -> list[str]:
        return []

    def report_state(self, *args: Any, **kwargs: Any) -> None:
        pass


def test_a_thread_that_outlives_stop_never_writes_into_a_reused_descriptor() -> None:
    release = threading.Event()
    watcher = Watcher(lambda: cast(Client, SlowClient(release)))
    watcher.start()
    watcher.stop(timeout=0.05)  # the thread is still saying goodbye to the daemon
    # The process opens new descriptors: they get the numbers the watcher's pipe had.
    read_fd, write_fd = os.pipe()
    other_read, other_write = os.pipe()
    try:
        os.set_blocking(read_fd, False)
        os.set_blocking(other_read, False)
        release.set()
        watcher._thread.join(WAIT)
        assert not watcher._thread.is_alive()
        for fd in (read_fd, other_read):
            try:
                assert os.read(fd, 10) == b"", "the watcher wrote into a descriptor it had closed"
            except BlockingIOError:
                pass  # empty: nothing was written
    finally:
        for fd in (read_fd, write_fd, other_read, other_write):
            os.close(fd)


def test_stop_reports_no_error_and_take_returns_the_goodbye() -> None:
    release = threading.Event()
    release.set()
    watcher = Watcher(lambda: cast(Client, SlowClient(release)))
    watcher.start()
    watcher._stop.set()
    watcher._thread.join(WAIT)
    assert watcher.take() == [WatcherStopped(None)]
    watcher.stop()
