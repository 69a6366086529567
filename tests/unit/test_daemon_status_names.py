"""How ``status`` names clients: as they said, made distinct where two share a name."""

from __future__ import annotations

from reloadd.daemon.registry import ClientRecord
from reloadd.daemon.status import display_names
from reloadd.protocol import Role


def record(name: str, pid: int) -> ClientRecord:
    """A registered client."""
    return ClientRecord(
        identity=b"x", name=name, pid=pid, role=Role.SERVER, connected_at=0.0, last_seen=0.0
    )


def test_distinct_names_are_kept() -> None:
    assert display_names([record("web", 1), record("worker", 2)]) == ["web", "worker"]


def test_shared_names_get_the_pid_then_a_counter() -> None:
    names = display_names([record("app", 10), record("app", 11), record("app", 11), record("x", 1)])
    assert names == ["app (pid 10)", "app (pid 11)", "app (pid 11) #2", "x"]
