"""How many connections the daemon keeps open under a given open-file limit."""

from __future__ import annotations

import resource

from reloadd.daemon.fd_limit import connection_cap
from reloadd.protocol.limits import MAX_CONNECTIONS


def test_half_of_a_low_limit_is_kept_free() -> None:
    assert connection_cap(1024) == 512
    assert connection_cap(100) == 50
    assert connection_cap(1) == 1


def test_a_high_limit_is_capped_by_max_connections() -> None:
    assert connection_cap(65_536) == MAX_CONNECTIONS
    assert connection_cap(resource.RLIM_INFINITY) == MAX_CONNECTIONS
