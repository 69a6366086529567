"""Warm restarts: a preloaded *template* process forks the next child of a command.

* :mod:`~reloadd.client.warm.starter` — :class:`WarmStarter`, the engine (used by
  ``reloadd run --warm``, reusable by any supervisor): start each child warm or cold.
* :mod:`~reloadd.client.warm.started` — :class:`StartedChild`: the child, waited for by pid.
* :mod:`~reloadd.client.warm.plan` — which commands a template can run, and how.
* :mod:`~reloadd.client.warm.learned` — the module names to preload, kept per command.
* :mod:`~reloadd.client.warm.handle` — the supervisor's end of one template process.
* :mod:`~reloadd.client.warm.subreaper` — forked children adopted by the supervisor.
* :mod:`~reloadd.client.warm.strays` — a fork a dying template could not name, stopped.
* ``template.py``, ``preload.py``, ``fresh.py`` — run in the template and its fork, by the
  command's interpreter: standard library only, loaded by path, never ``reloadd``.

See ``docs/warm.md``.
"""

from __future__ import annotations

from reloadd.client.warm.started import StartedChild
from reloadd.client.warm.starter import WarmStarter

__all__ = ["StartedChild", "WarmStarter"]
