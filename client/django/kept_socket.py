"""``runserver`` keeps one listening socket for its whole life: no refused connection at a restart.

Django's ``runserver`` runs as two processes: the parent (``restart_with_reloader()``)
starts a child with ``RUN_MAIN=true`` and starts another each time the child exits
with code 3; every child binds the port again once it has imported everything, so
connections made meanwhile are refused (Django's ticket #18855).

Here the parent binds the socket once (:func:`parent_run_with_reloader`, around
Django's ``run_with_reloader()``) and hands it to every child: Django starts them
with ``close_fds=False``, the socket is inheritable, and :data:`ENV_VAR` says which
descriptor it is, for which parent, and for which address. In the child, Django's
``WSGIServer.server_bind`` takes it instead of binding (:func:`install_child`), so a
connection made during a restart waits in the backlog and the next child answers it.

While a child cannot serve (its server thread ended on an exception: a
``SyntaxError`` in a view, a failing system check), a
:class:`~reloadd.client.standin.StandIn` answers on the socket with a ``503`` page
naming the error and its file:line, until the next change restarts the child.

A ``runserver`` whose command serves with another server (daphne's or channels'
ASGI ``runserver``) keeps Django's behaviour; the parent says so once.
"""

from __future__ import annotations

import atexit
import functools
import os
import socket
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from django.utils import autoreload  # type: ignore[import-untyped]

from reloadd.client.django.drain import Drain
from reloadd.client.project_frames import describe
from reloadd.client.standin import Outage, StandIn
from reloadd.protocol import Crash

ENV_VAR = "RELOADD_DJANGO_SOCKET"
"""``FD:PARENT_PID:PORT:HOST``: the kept socket, set by ``runserver``'s parent for its children."""

MAX_STARTER_DEPTH = 3
"""How many levels up a server process looks for the ``runserver`` parent that bound its socket
(1: started by it; more: forked from a warm template it started)."""

BACKLOG = socket.SOMAXCONN
"""The kept socket's listen backlog: room for the connections made during a restart."""

_django_run_with_reloader: Callable[..., Any] | None = None
"""Django's ``run_with_reloader`` while :func:`install_parent` or :func:`install_child` wrapped it."""

_django_server_bind: Callable[[Any], None] | None = None
"""Django's ``WSGIServer.server_bind`` while :func:`install_child` has wrapped it."""

_inherited: socket.socket | None = None
_standin: StandIn | None = None


class _BoundSocket(socket.socket):
    """The inherited socket: already bound and listening, so ``bind`` and ``listen`` do nothing."""

    def bind(self, address: Any) -> None:
        """Already bound (by ``runserver``'s parent)."""

    def listen(self, backlog: int = BACKLOG) -> None:
        """Already listening, with :data:`BACKLOG`."""


# -- the parent: bind once, hand over -------------------------------------------------------------


def install_parent() -> None:
    """In ``runserver``'s parent process: wrap ``run_with_reloader`` to bind the socket first."""
    global _django_run_with_reloader
    if _django_run_with_reloader is None:
        _django_run_with_reloader = autoreload.run_with_reloader
        autoreload.run_with_reloader = parent_run_with_reloader


def parent_run_with_reloader(main_func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Django's ``run_with_reloader``, its children handed a socket bound once, if it is ``runserver``'s."""
    assert _django_run_with_reloader is not None
    if os.environ.get(autoreload.DJANGO_AUTORELOAD_ENV) != "true":
        sock = _bind_for(getattr(main_func, "__self__", None))
        if sock is not None:
            host, port = sock.getsockname()[:2]
            os.environ[ENV_VAR] = f"{sock.fileno()}:{os.getpid()}:{port}:{host}"
    return _django_run_with_reloader(main_func, *args, **kwargs)


def _bind_for(command: Any) -> socket.socket | None:
    """The socket for a stock ``runserver`` command, or None (another server, or no bind)."""
    from django.core.management.commands import runserver  # type: ignore[import-untyped]
    from django.core.servers import basehttp  # type: ignore[import-untyped]

    if not isinstance(command, runserver.Command):
        return None
    server_cls = getattr(command, "server_cls", basehttp.WSGIServer)
    own_server = type(command).inner_run is not runserver.Command.inner_run
    if own_server or not issubclass(server_cls, basehttp.WSGIServer):
        print(
            f"reloadd: {type(command).__module__} serves with its own server: its socket is "
            "closed at each restart, as Django does",
            file=sys.stderr,
            flush=True,
        )
        return None
    family = socket.AF_INET6 if command.use_ipv6 else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((command.addr, int(command.port)))
        sock.listen(BACKLOG)
    except (OSError, ValueError, OverflowError):
        sock.close()  # the child meets the same error and says it as Django does
        return None
    sock.set_inheritable(True)
    return sock


# -- the child: serve on it, or answer with the 503 page ------------------------------------------


def install_child() -> None:
    """In ``runserver``'s child: serve on the inherited socket; answer on it while the server cannot."""
    global _django_run_with_reloader, _django_server_bind
    if inherited_socket() is None:
        return
    from django.core.servers import basehttp

    if _django_server_bind is None:
        _django_server_bind = basehttp.WSGIServer.server_bind
        basehttp.WSGIServer.server_bind = _server_bind
    if _django_run_with_reloader is None:
        _django_run_with_reloader = autoreload.run_with_reloader
        autoreload.run_with_reloader = child_run_with_reloader


def uninstall() -> None:
    """Put Django's ``run_with_reloader`` and ``server_bind`` back."""
    global _django_run_with_reloader, _django_server_bind
    if _django_run_with_reloader is not None:
        autoreload.run_with_reloader = _django_run_with_reloader
        _django_run_with_reloader = None
    if _django_server_bind is not None:
        from django.core.servers import basehttp

        basehttp.WSGIServer.server_bind = _django_server_bind
        _django_server_bind = None


def inherited_socket() -> socket.socket | None:
    """The socket this child was handed by its ``runserver`` parent (per :data:`ENV_VAR`), or None."""
    global _inherited
    if _inherited is None:
        _inherited = _parse(os.environ.get(ENV_VAR, ""))
    return _inherited


def _parse(text: str) -> socket.socket | None:
    fd_text, _, rest = text.partition(":")
    parent, _, rest = rest.partition(":")
    port, _, host = rest.partition(":")
    if not (fd_text.isdigit() and parent.isdigit() and port.isdigit() and host):
        return None  # not set
    if not started_by(int(parent)):
        return None  # set for another process (a process this one's parent did not start)
    try:
        sock = _BoundSocket(fileno=int(fd_text))
    except OSError:
        return None
    if sock.type != socket.SOCK_STREAM or sock.getsockname()[:2] != (host, int(port)):
        sock.detach()
        return None
    sock.setblocking(True)  # the flag is shared: a stand-in before may have cleared it
    sock.set_inheritable(False)  # this process's own children do not get it (the parent keeps it)
    os.environ.pop(ENV_VAR, None)  # nor are they told of it
    return sock


def started_by(parent: int) -> bool:
    """Whether ``parent`` started this process: its parent, or (a warm start) its parent's parent.

    A warm server process is a fork of a template that ``runserver``'s parent started
    (``reloadd.client.warm``), so the parent that bound the socket is one or two levels up.
    """
    pid = os.getpid()
    for _ in range(MAX_STARTER_DEPTH):
        pid = _parent_of(pid)
        if pid == parent:
            return True
        if pid <= 1:
            return False
    return False


def _parent_of(pid: int) -> int:
    if pid == os.getpid():
        return os.getppid()
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return int(stat.read().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return 0


def _server_bind(server: Any) -> None:
    """Django's ``server_bind``, on the inherited socket when it is for the same address."""
    assert _django_server_bind is not None
    sock = inherited_socket()
    if sock is not None and sock.family == server.address_family:
        server.socket.close()
        server.socket = sock
        atexit.register(Drain(server).finish)  # a restart answers what this process accepted
    _django_server_bind(server)


def child_run_with_reloader(main_func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Django's ``run_with_reloader``, with a server thread that starts the stand-in if it fails."""
    assert _django_run_with_reloader is not None

    @functools.wraps(main_func)
    def guarded(*a: Any, **kw: Any) -> Any:
        try:
            return main_func(*a, **kw)
        except Exception as exc:
            start_standin(exc)
            raise

    return _django_run_with_reloader(guarded, *args, **kwargs)


def outage_of(exc: BaseException, root: Path) -> Outage:
    """The page for a server that failed with ``exc``: the error and its place under ``root``."""
    kind, message, filename, line = describe(exc, root)
    error = f"{kind}: {message}"
    if filename:
        try:
            where = str(Path(filename).relative_to(root))
        except ValueError:
            where = filename
        error = f"{where}{f':{line}' if line else ''}: {error}"
    crash = Crash(kind, message, filename, line)
    return Outage("manage.py runserver could not start its server", error, crash=crash)


def start_standin(exc: BaseException) -> None:
    """Answer on the inherited socket with the ``503`` page for ``exc`` until this process ends."""
    global _standin
    sock = inherited_socket()
    if sock is None:
        return
    if _standin is None:
        _standin = StandIn([sock])
        atexit.register(_standin.stop, finish=True)  # answer what it accepted before exiting
    _standin.start(outage_of(exc, Path.cwd()))
