"""Making ``runserver``'s autoreloader the daemon-backed one, or not.

``runserver`` calls ``django.utils.autoreload.run_with_reloader()``, which in the
reloader's child process (``RUN_MAIN=true``) asks the module-level
``get_reloader()`` for a reloader. :func:`install` replaces that function with
:func:`get_reloader`, which returns a connected :class:`DaemonReloader`, or
Django's own reloader with one warning line when the daemon cannot be used.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from django.utils import autoreload  # type: ignore[import-untyped]

from reloadd.client.django import kept_socket, warm, warm_report
from reloadd.client.django.lifecycle import install_ready_hook, uninstall_ready_hook
from reloadd.client.django.reloader import DaemonReloader, warn
from reloadd.protocol import ReloaddError

ENV_VAR = "RELOADD_DJANGO"
"""Set to ``0`` (or ``false``, ``no``, ``off``) to keep Django's own reloader."""

_OFF = frozenset({"0", "false", "no", "off"})

_django_get_reloader: Callable[[], Any] | None = None
"""Django's ``get_reloader`` while :func:`install` has replaced it."""


def enabled() -> bool:
    """Whether :data:`ENV_VAR` leaves the daemon-backed reloader on (it is on unless set to off)."""
    return os.environ.get(ENV_VAR, "").strip().lower() not in _OFF


def install() -> bool:
    """Replace ``django.utils.autoreload.get_reloader`` in the reloader's child process.

    Does nothing in other processes (``RUN_MAIN`` is not ``true``) or when
    :data:`ENV_VAR` turns it off. Returns whether the daemon-backed
    ``get_reloader`` is in place. Safe to call more than once. Also has Django's
    server say when it listens (:func:`~reloadd.client.django.lifecycle.install_ready_hook`),
    and keeps the listening socket across restarts (:mod:`~reloadd.client.django.kept_socket`):
    bound once in the parent process, served on by each child. In the parent, also
    starts each child as a fork of a warm template when ``RELOADD_WARM`` asks for it
    (:mod:`~reloadd.client.django.warm`).
    """
    global _django_get_reloader
    if not enabled():
        return False
    if os.environ.get(autoreload.DJANGO_AUTORELOAD_ENV) != "true":
        kept_socket.install_parent()
        warm.install_parent()
        return False
    kept_socket.install_child()
    warm_report.install_child()
    if autoreload.get_reloader is not get_reloader:
        _django_get_reloader = autoreload.get_reloader
        autoreload.get_reloader = get_reloader
    install_ready_hook()
    return True


def uninstall() -> None:
    """Put Django's ``get_reloader`` (and ``server_activate``, ``run_with_reloader``, ``server_bind``, ``restart_with_reloader``) back."""
    global _django_get_reloader
    if _django_get_reloader is not None:
        autoreload.get_reloader = _django_get_reloader
        _django_get_reloader = None
    uninstall_ready_hook()
    kept_socket.uninstall()
    warm.uninstall()


def django_reloader() -> Any:
    """The reloader Django itself would use here (its ``WatchmanReloader`` or ``StatReloader``)."""
    original = _django_get_reloader
    if original is None:
        original = autoreload.get_reloader
    if original is get_reloader:  # only if someone else installed it by hand
        original = autoreload.StatReloader
    return original()


def get_reloader() -> Any:
    """A :class:`DaemonReloader` connected to the project's daemon, else Django's own reloader.

    The daemon is started if none runs. If it cannot be used, one line on
    stderr says why and which of Django's reloaders runs instead.
    """
    if not enabled():
        return django_reloader()
    reloader = DaemonReloader()
    try:
        reloader.connect()
    except ReloaddError as exc:  # DaemonUnavailable, or whatever the client met
        fallback = django_reloader()
        warn(f"cannot use the daemon ({exc}); using Django's {type(fallback).__name__} instead")
        return fallback
    return reloader
