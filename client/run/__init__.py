"""``reloadd run -- CMD``: run any dev server and restart it when one of its files changes.

The modules, one job each:

* :mod:`~reloadd.client.run.supervisor` — the loop: start, stop, restart; the restart line.
* :mod:`~reloadd.client.run.child` — one run of the command, in its own process group.
* :mod:`~reloadd.client.run.watcher` — the one daemon connection, in a thread, across restarts.
* :mod:`~reloadd.client.run.child_hook` and ``startup/sitecustomize.py`` — inside each
  Python child: report the files it imports (and the one a crash points at).
* :mod:`~reloadd.client.run.reports` — the supervisor's end of those reports.
* :mod:`~reloadd.client.run.lifecycle`, :mod:`~reloadd.client.run.readiness` and
  :mod:`~reloadd.client.run.proc_net` — the child's state for the daemon (starting,
  ready, crashed, stopped), when it serves, and what ``/proc`` says of its sockets.
* :mod:`~reloadd.client.run.no_files` — the warning for a command that reports no file.
* :mod:`~reloadd.client.run.sockets` and ``listen_shim.py`` — ``--socket``: sockets
  bound once, handed to each child as fd 3, 4, ... (``LISTEN_FDS``/``LISTEN_PID``).
* :mod:`~reloadd.client.standin` (shared with the Django integration) and :mod:`~reloadd.client.run.conflict` — ``--socket``
  while no child serves: a 503 page naming the error; a child that binds the held port.
* :mod:`~reloadd.client.run.command` — the command checked before anything starts, and
  its exit status; :mod:`~reloadd.client.run.signals` and
  :mod:`~reloadd.protocol.wakeup` — the supervisor's signals, the one wake-up pipe.
* :mod:`~reloadd.client.run.options` and :mod:`~reloadd.client.run.patterns` — the
  command line, ``--watch`` and ``--ignore``.

See ``docs/run.md``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from reloadd.client.run.options import RunError, RunOptions, add_arguments, options_from_args
    from reloadd.client.run.sockets import listen_sockets
    from reloadd.client.run.supervisor import Supervisor, run

_HOMES = {
    "RunError": "options",
    "RunOptions": "options",
    "add_arguments": "options",
    "options_from_args": "options",
    "listen_sockets": "sockets",
    "Supervisor": "supervisor",
    "run": "supervisor",
}
"""Where each public name lives. They are imported on first use, so that importing
:mod:`~reloadd.client.run.child_hook` (as :mod:`reloadd.client.modules` does) does not
load the supervisor."""

__all__ = [
    "RunError",
    "RunOptions",
    "Supervisor",
    "add_arguments",
    "listen_sockets",
    "options_from_args",
    "run",
]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{home}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_HOMES})
