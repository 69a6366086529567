"""``RELOADD_WARM=1``: ``runserver`` starts each server process as a fork of a warm template.

Django's ``runserver`` parent (``restart_with_reloader()``) runs the server process with
``subprocess.run`` and starts another each time it exits with code 3: every restart
imports Django, the settings' apps and the standard library again. With warm restarts
on (:func:`wanted`), the parent starts each one through
:class:`reloadd.client.warm.WarmStarter` instead: a template process that has imported
what the previous server imported from outside the project forks, and the fork runs
``manage.py`` (the same arguments, environment, working folder and kept socket), so a
restart costs the project's own imports only. The first start is cold; whatever makes
the engine doubt a template (a changed third-party file or environment, a template
that holds a thread or crashed) makes it start cold and say why, once.

Everything else is Django's contract, unchanged: the server process gets
``RUN_MAIN=true``; exit code 3 starts the next one; any other status ends
``runserver`` with it (a negative status, a process killed by a signal, as
``subprocess.run`` gives it); Ctrl-C and SIGTERM end the server process and
``runserver``. The kept socket (:mod:`~reloadd.client.django.kept_socket`) is passed to
every server process, warm or cold, with the same descriptor number.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Protocol

from django.utils import autoreload  # type: ignore[import-untyped]

from reloadd.client.django.drain import DRAIN_TIMEOUT
from reloadd.client.django.warm_report import Reports
from reloadd.protocol import ReloaddError

ENV_VAR = "RELOADD_WARM"
"""``1`` (or ``true``, ``yes``, ``on``) turns warm restarts on, ``0`` (``false``, ``no``, ``off``) off."""

SETTING = "RELOADD_WARM"
"""The Django setting (a bool) that turns them on for a project; :data:`ENV_VAR` wins over it."""

INTERRUPT_GRACE = DRAIN_TIMEOUT + 0.5
"""Seconds a server process has to end after Ctrl-C before it is killed: time to answer
the requests it accepted (:data:`~reloadd.client.django.drain.DRAIN_TIMEOUT`) and exit."""

_ON = frozenset({"1", "true", "yes", "on"})
_OFF = frozenset({"0", "false", "no", "off", ""})


class Child(Protocol):
    """What the loop uses of a started server process (:class:`reloadd.client.warm.StartedChild`)."""

    pid: int
    warm: bool

    def poll(self) -> int | None:
        """The exit status (negative: killed by that signal), None while it runs."""
        ...

    def wait(self, timeout: float | None = None) -> int:
        """Wait for the exit status; ``subprocess.TimeoutExpired`` after ``timeout`` seconds."""
        ...

    def send_signal(self, signum: int) -> None:
        """Send ``signum`` to it, if it has not been waited for."""
        ...


class Starter(Protocol):
    """What the loop uses of :class:`reloadd.client.warm.WarmStarter`."""

    def start(self, *, pass_fds: Sequence[int] = ()) -> Child:
        """Start the next server process, forked from the template or cold."""
        ...

    def learn(self, names: list[str]) -> None:
        """Module names a server process imported."""
        ...

    def child_ready(self) -> None:
        """The server process serves: prepare a template if none runs."""
        ...


_django_restart: Callable[[], int] | None = None
"""Django's ``restart_with_reloader`` while :func:`install_parent` has replaced it."""


def say(message: str) -> None:
    """One ``reloadd:`` line on stderr, where ``runserver``'s parent prints."""
    print(f"reloadd: {message}", file=sys.stderr, flush=True)


def wanted() -> bool:
    """Whether warm restarts are asked for: :data:`ENV_VAR`, else the :data:`SETTING`, else off."""
    value = os.environ.get(ENV_VAR)
    if value is not None:
        text = value.strip().lower()
        if text in _ON:
            return True
        if text not in _OFF:
            say(
                f"{ENV_VAR}={value!r} is neither on (1, true) nor off (0, false); warm restarts stay off"
            )
        return False
    from django.conf import settings  # type: ignore[import-untyped]
    from django.core.exceptions import ImproperlyConfigured  # type: ignore[import-untyped]

    try:
        return bool(getattr(settings, SETTING, False))
    except ImproperlyConfigured:  # no settings at all
        return False


def install_parent() -> None:
    """In ``runserver``'s parent: have ``restart_with_reloader`` start warm when :func:`wanted`."""
    global _django_restart
    if _django_restart is None:
        _django_restart = autoreload.restart_with_reloader
        autoreload.restart_with_reloader = restart_with_reloader


def uninstall() -> None:
    """Put Django's ``restart_with_reloader`` back."""
    global _django_restart
    if _django_restart is not None:
        autoreload.restart_with_reloader = _django_restart
        _django_restart = None


def restart_with_reloader() -> int:
    """Django's loop (start the server process, again after each exit code 3), warm if :func:`wanted`."""
    assert _django_restart is not None
    if not wanted():
        return _django_restart()
    from reloadd.client.warm import WarmStarter
    from reloadd.protocol.endpoint import find_project_root

    try:
        root = find_project_root()
    except ReloaddError as exc:  # the working folder cannot be read
        say(f"cannot start warm ({exc}); starting cold")
        return _django_restart()
    reports = Reports()
    env = {**os.environ, autoreload.DJANGO_AUTORELOAD_ENV: "true", **reports.environment()}
    starter = WarmStarter(
        [os.fspath(arg) for arg in autoreload.get_child_arguments()],
        env=env,
        cwd=Path.cwd(),
        root=root,
        say=say,
    )
    try:
        return _loop(starter, reports, (*_kept_fds(), reports.write_fd))
    finally:
        starter.close()
        reports.close()


HANDED_OVER = object()
"""What :func:`_wait` returns when the server process, exiting to restart, accepts nothing more."""


def _loop(starter: Starter, reports: Reports, pass_fds: tuple[int, ...]) -> int:
    """Start server processes until one ends with another status than 3; return it.

    A process exiting to restart on the kept socket says when it accepts nothing more
    (:data:`~reloadd.client.django.warm_report.HANDED_OVER`): the next one is started
    then, while the old one finishes exiting, and the old one's status is still the one
    that decides (anything but 3 stops the new one and ends ``runserver`` with it).
    """
    child = _start(starter, pass_fds)
    while True:
        outcome = _wait(child, starter, reports)
        if outcome is HANDED_OVER:
            with _ended_if_interrupted(child):  # while the next one starts
                following = _start(starter, pass_fds)
            with _ended_if_interrupted(child, following):
                status = int(child.wait(None))
            if status != 3:
                _kill(following)
                return status
            child = following
            continue
        assert isinstance(outcome, int)
        if outcome != 3:
            return outcome
        child = _start(starter, pass_fds)


def _start(starter: Starter, pass_fds: tuple[int, ...]) -> Child:
    child = starter.start(pass_fds=pass_fds)
    if child.warm:
        say(f"warm start: server process {child.pid} is a fork of the template")
    return child


@contextlib.contextmanager
def _ended_if_interrupted(*children: Child) -> Iterator[None]:
    """End ``children`` if the body is interrupted, then let the interruption go on.

    On Ctrl-C each server process (in a session of its own, as the engine starts it) gets
    SIGINT from here and a moment to end; on SIGTERM (Django's handler raises
    ``SystemExit``) or any other exception they are killed at once, as ``subprocess.run``
    does in stock ``runserver``.
    """
    try:
        yield
    except KeyboardInterrupt:
        for child in children:
            child.send_signal(signal.SIGINT)
        for child in children:
            if not _ends_within(child, INTERRUPT_GRACE):
                _kill(child)
        raise
    except BaseException:
        for child in children:
            _kill(child)
        raise


def _wait(child: Child, starter: Starter, reports: Reports) -> int | object:
    """The server process's status (or :data:`HANDED_OVER`), learning what it imported
    meanwhile; the process is ended if this is interrupted (:func:`_ended_if_interrupted`)."""
    with _ended_if_interrupted(child), _ExitWatch(child.pid) as exits:
        while True:
            status = child.poll()
            if status is not None:
                return int(status)
            readable, _, _ = select.select([reports.read_fd, *exits.fds], [], [], exits.timeout)
            if reports.read_fd in readable:
                names = reports.read()
                handed_over = Reports.handed_over(names)
                if names:
                    starter.learn(names)
                    starter.child_ready()
                if child.pid in handed_over:
                    return HANDED_OVER


class _ExitWatch:
    """A descriptor that becomes readable when ``pid`` ends (``pidfd_open``), else a short poll."""

    POLL = 0.005
    """Seconds between two looks at the child where no pidfd can be had."""

    def __init__(self, pid: int) -> None:
        self.fds: list[int] = []
        self.timeout: float | None = None
        try:
            self.fds.append(os.pidfd_open(pid))
        except (AttributeError, OSError):  # before Linux 5.3, or the child already ended
            self.timeout = self.POLL

    def __enter__(self) -> _ExitWatch:
        return self

    def __exit__(self, *exc_info: object) -> None:
        for fd in self.fds:
            os.close(fd)


def _ends_within(child: Child, seconds: float) -> bool:
    try:
        child.wait(seconds)
    except subprocess.TimeoutExpired:
        return False
    return True


def _kill(child: Child) -> None:
    try:
        child.send_signal(signal.SIGKILL)
        child.wait(None)
    except OSError:
        pass


def _kept_fds() -> tuple[int, ...]:
    """The kept socket's descriptor, if this parent bound one for its server processes."""
    from reloadd.client.django import kept_socket

    fd, _, rest = os.environ.get(kept_socket.ENV_VAR, "").partition(":")
    parent = rest.partition(":")[0]
    if fd.isdigit() and parent == str(os.getpid()):
        return (int(fd),)
    return ()
