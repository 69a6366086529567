"""What ``runserver``'s reloader child reports of its life: starting, ready, crashed, stopped.

The reloader child runs two threads. Django's ``django-main-thread`` runs ``inner_run``:
system checks, then the server (bind, listen, ``serve_forever``). The process's main
thread runs the reloader (:class:`~reloadd.client.django.DaemonReloader`), which owns the
connection to the daemon; a client is used from one thread, so every report is sent
from there:

* ``starting`` as soon as the reloader is connected (before the server thread starts);
* ``ready`` once the server *listens*: :func:`install_ready_hook` wraps Django's
  ``WSGIServer.server_activate``, which ``runserver`` reaches after ``bind()``; the
  handler is built by then, so a request made from this moment on waits in the listen
  backlog and is answered by this process's code;
* ``crashed`` when the server thread ended on an exception before serving (a
  ``SyntaxError`` in a view, a failing system check: what Django's ``check_errors``
  catches while its reloader keeps watching), with the innermost project frame;
* ``stopped`` on Ctrl-C or SIGTERM (``SystemExit`` other than the restart's code 3).

Until ``ready`` or ``crashed`` is sent the reloader of a server (one that ``run()`` was
given a server thread) waits for changes in slices of :data:`STARTING_SLICE` seconds, so
that it reports within that of the server listening.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from django.utils import autoreload  # type: ignore[import-untyped]

from reloadd.client.crash import crash_of
from reloadd.protocol import Crash, ServerState

STARTING_SLICE = 0.01
"""Seconds the reloader waits for changes at a time until it has reported ``ready`` or
``crashed``: how late those reports may be."""

RESTART_CODE = 3
"""The exit code that makes ``runserver``'s parent process start a new child."""

listening = threading.Event()
"""Set once ``runserver``'s server listens in this process (by the wrapped ``server_activate``)."""

_django_server_activate: Callable[[Any], None] | None = None
"""Django's ``WSGIServer.server_activate`` while :func:`install_ready_hook` has wrapped it."""


on_listening: list[Callable[[], None]] = []
"""Called (without arguments) once ``runserver``'s server listens, after :data:`listening` is set."""


def _server_activate(server: Any) -> None:
    assert _django_server_activate is not None
    _django_server_activate(server)
    listening.set()
    for call in list(on_listening):
        call()


def install_ready_hook() -> None:
    """Have Django's ``WSGIServer`` set :data:`listening` once it listens (idempotent)."""
    global _django_server_activate
    # Imported here: it imports django.db, which connects receivers to request signals.
    from django.core.servers import basehttp  # type: ignore[import-untyped]

    if _django_server_activate is None:
        _django_server_activate = basehttp.WSGIServer.server_activate
        basehttp.WSGIServer.server_activate = _server_activate


def uninstall_ready_hook() -> None:
    """Put Django's ``server_activate`` back, and forget that a server listened."""
    global _django_server_activate
    if _django_server_activate is not None:
        from django.core.servers import basehttp

        basehttp.WSGIServer.server_activate = _django_server_activate
        _django_server_activate = None
    listening.clear()


class Reporter(Protocol):
    """What :class:`Lifecycle` uses of a :class:`~reloadd.client.Client`."""

    @property
    def root(self) -> Path:
        """The project root (where a crash's project frame is looked for)."""
        ...

    def report_state(
        self, state: ServerState, *, error: Crash | None = None, duration_ms: int | None = None
    ) -> None:
        """Tell the daemon this server's state."""
        ...


class Lifecycle:
    """The states one reloader child reports, each once, in order, from the reloader's thread."""

    def __init__(self) -> None:
        self.server_thread: threading.Thread | None = None
        """Django's ``django-main-thread``, once the reloader runs (``run()`` is given it)."""
        self.reported: ServerState | None = None
        """The last state sent."""

    @property
    def settled(self) -> bool:
        """Whether the server's start is over (``ready`` or ``crashed`` sent, or stopped)."""
        return self.reported not in (None, ServerState.STARTING)

    def wait_slice(self, wait_timeout: float) -> float:
        """How long the reloader may wait for changes now: short while a server starts."""
        if self.settled or self.server_thread is None:  # no server: a reloader driven alone
            return wait_timeout
        return min(STARTING_SLICE, wait_timeout)

    def starting(self, client: Reporter) -> None:
        """A new server process began."""
        self._report(client, ServerState.STARTING)

    def check(self, client: Reporter) -> None:
        """Report ``ready`` once the server listens, or ``crashed`` if its thread died first."""
        if self.settled:
            return
        if listening.is_set():
            self._report(client, ServerState.READY)
            return
        thread = self.server_thread
        if thread is not None and not thread.is_alive():
            failure = autoreload._exception
            if failure is not None:
                self._report(client, ServerState.CRASHED, error=crash_of(failure[1], client.root))

    def ended(self, client: Reporter, exc: BaseException | None) -> None:
        """The reloader stops because of ``exc``: ``stopped`` unless it is a restart."""
        if isinstance(exc, KeyboardInterrupt) or (
            isinstance(exc, SystemExit) and exc.code != RESTART_CODE
        ):
            self._report(client, ServerState.STOPPED)

    def _report(self, client: Reporter, state: ServerState, *, error: Crash | None = None) -> None:
        if self.reported is ServerState.STOPPED:
            return
        self.reported = state
        client.report_state(state, error=error)
