"""How much of each measure a run does: ``--quick`` or the full run."""

from __future__ import annotations

from dataclasses import dataclass, replace


@dataclass(frozen=True)
class Plan:
    """Sizes, sample counts and windows for one run."""

    quick: bool
    sizes: tuple[int, ...]
    """Tree sizes (module files) for latency and set-up."""
    latency_samples: int
    stat_latency_samples: int
    """StatReloader takes up to a second per sample."""
    setup_runs: int
    """Restarts timed per contender and size (after one untimed)."""
    idle_size: int
    idle_servers: tuple[int, ...]
    idle_window: float
    """Seconds of idle CPU measured per configuration."""
    memory_size: int
    memory_clients: int
    burst_size: int
    burst_files: int
    burst_clients: int
    burst_limit: float
    """Seconds after which a burst's notifications are no longer collected (Django's
    WatchmanReloader takes one subscription message per 100 ms tick, one per folder)."""
    import_runs: int
    e2e_runs: int
    browser_edits: int
    """Timed edits of each kind (template, CSS, view) per browser-refresh contender."""

    def with_sizes(self, sizes: tuple[int, ...]) -> Plan:
        """The same plan on other tree sizes."""
        return replace(self, sizes=sizes)


FULL = Plan(
    quick=False,
    sizes=(1_000, 5_000, 20_000),
    latency_samples=100,
    stat_latency_samples=20,
    setup_runs=5,
    idle_size=20_000,
    idle_servers=(1, 4, 8),
    idle_window=10.0,
    memory_size=20_000,
    memory_clients=8,
    burst_size=20_000,
    burst_files=5_000,
    burst_clients=4,
    burst_limit=15.0,
    import_runs=15,
    e2e_runs=7,
    browser_edits=15,
)

QUICK = Plan(
    quick=True,
    sizes=(20_000,),
    latency_samples=30,
    stat_latency_samples=5,
    setup_runs=3,
    idle_size=20_000,
    idle_servers=(8,),
    idle_window=5.0,
    memory_size=20_000,
    memory_clients=8,
    burst_size=20_000,
    burst_files=5_000,
    burst_clients=2,
    burst_limit=5.0,
    import_runs=5,
    e2e_runs=2,
    browser_edits=3,
)
