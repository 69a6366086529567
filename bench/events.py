"""Event delivery: a save → the ``changed`` event a subscriber reads, beside the server's notification.

On each reloadd daemon, one server (a worker process) registers the tree and one
subscriber follows the event stream: ``Client.events()`` on a thread of the bench
process, as an editor plugin written in Python would. Each sample saves a module in
place; the server's notification and the subscriber's ``changed`` event are both
stamped on the machine-wide monotonic clock. The row is the event's delay over the
server's own notification (which carries the watcher's latency), p50 / p99, against
the target of 2 ms; its note gives the event's delay from the save.
"""

from __future__ import annotations

import queue
import random
import threading
import time
from pathlib import Path

from bench.environment import BenchEnv
from bench.plan import Plan
from bench.results import RELOADD_BUILTIN, RELOADD_WATCHMAN, Result, fmt, median, percentile
from bench.trees import rewrite
from reloadd.client import Client, Role
from reloadd.client.events import ChangedEvent

MEASURE = "save → `changed` event, over the server's notification (ms)"
TARGET_P50 = 2.0
WARM_UP = 3
TIMEOUT = 5.0
PAUSE = 0.05
"""Shortest pause between samples (a random pause up to twice as long follows each)."""
BACKENDS = {"watchman": RELOADD_WATCHMAN, "builtin": RELOADD_BUILTIN}


class Follower(threading.Thread):
    """A subscriber on its own thread; puts the monotonic time of each ``changed`` it reads."""

    def __init__(self, root: Path) -> None:
        super().__init__(name="bench follower", daemon=True)
        self.root = root
        self.arrivals: queue.Queue[int] = queue.Queue()
        self.ready = threading.Event()
        self.stopped = threading.Event()
        self.failure: BaseException | None = None

    def run(self) -> None:
        try:
            with Client(
                self.root, name="bench editor", role=Role.EDITOR, spawn=False, fallback=False
            ) as client:
                events = client.events(timeout=0.1)  # subscribed once it returns
                self.ready.set()
                while not self.stopped.is_set():
                    for event in events:
                        if isinstance(event, ChangedEvent):
                            self.arrivals.put(time.monotonic_ns())
                    events = client.events(timeout=0.1)
        except BaseException as exc:  # noqa: BLE001  (reported by the bench's thread)
            self.failure = exc
            self.ready.set()

    def next_arrival(self) -> int | None:
        """When the next ``changed`` event was read, or None if none comes in time."""
        try:
            return self.arrivals.get(timeout=TIMEOUT)
        except queue.Empty:
            return None

    def discard(self) -> None:
        """Forget events already read."""
        while not self.arrivals.empty():
            self.arrivals.get_nowait()


def run(env: BenchEnv, plan: Plan) -> list[Result]:
    """On each backend, on the largest tree: the event's delay over the server's notification."""
    size = max(plan.sizes)
    tree = env.tree(size)
    results: list[Result] = []
    for backend, label in BACKENDS.items():
        with env.daemon(tree, backend):
            worker = env.worker("reloadd", tree)
            follower = Follower(tree.root)
            try:
                worker.wait_ready()
                follower.start()
                if not follower.ready.wait(TIMEOUT) or follower.failure is not None:
                    raise RuntimeError(f"the subscriber did not subscribe: {follower.failure}")
                over, from_save, missed = [], [], 0
                rng = random.Random(size)
                for index in range(WARM_UP + plan.latency_samples):
                    path = rng.choice(tree.files)
                    time.sleep(rng.uniform(PAUSE, 2 * PAUSE))
                    worker.discard_pending()
                    follower.discard()
                    saved_at = time.monotonic_ns()
                    rewrite(path, index)
                    change = worker.next_change(TIMEOUT)
                    arrival = follower.next_arrival()
                    if index < WARM_UP:
                        continue
                    if change is None or arrival is None:
                        missed += 1
                        continue
                    over.append((arrival - change.at_ns) / 1e6)
                    from_save.append((arrival - saved_at) / 1e6)
            finally:
                follower.stopped.set()
                follower.join(TIMEOUT)
                env.stop_workers([worker])
        note = f"save → event p50 {fmt(median(from_save))} ms"
        if missed:
            note += f"; {missed} saves without a notification or an event"
        results.append(
            Result(
                MEASURE,
                f"{size:,} files",
                label,
                median(over),
                percentile(over, 99),
                samples=len(over),
                target_p50=TARGET_P50,
                note=note,
            )
        )
    return results
