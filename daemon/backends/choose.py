"""Picking the watch backend: the argument, else ``RELOADD_BACKEND``, else ``auto``.

``auto`` prefers Watchman and falls back to the built-in watcher with one warning
saying why; naming a backend explicitly means its errors are raised, not worked around.
Naming a Watchman socket (``--watchman-sock``) names Watchman too: if it cannot be
reached that is an error, whatever the backend. ``WATCHMAN_SOCK`` in the environment
does not count as naming it (it is inherited, e.g. by a ``watchman trigger``'s
children): under ``auto`` a Watchman there that does not answer is fallen back from,
with the warning.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path

from reloadd.daemon.backends.base import Backend, ChangeSink
from reloadd.daemon.backends.builtin import builtin_backend
from reloadd.protocol.errors import BackendError, WatchmanUnavailable

log = logging.getLogger("reloadd.daemon.backends")

BACKEND_NAMES = ("auto", "watchman", "builtin")
"""The values accepted for ``--backend`` and ``RELOADD_BACKEND``."""

ENV_VAR = "RELOADD_BACKEND"
"""The environment variable naming the backend when no argument does."""


def requested_name(requested: str | None, env: Mapping[str, str] | None = None) -> str:
    """The backend name asked for: ``requested``, else ``RELOADD_BACKEND``, else ``auto``.

    Raises :class:`~reloadd.protocol.BackendError` for a name not in :data:`BACKEND_NAMES`.
    """
    environ = os.environ if env is None else env
    if requested:
        name, source = requested, "the backend argument"
    elif environ.get(ENV_VAR):
        name, source = environ[ENV_VAR], ENV_VAR
    else:
        return "auto"
    name = name.strip().lower()
    if name not in BACKEND_NAMES:
        raise BackendError(
            f"unknown watch backend {name!r} (from {source}); use one of: "
            + ", ".join(BACKEND_NAMES)
        )
    return name


def choose_backend(
    requested: str | None,
    on_changes: ChangeSink,
    *,
    watchman_sock: str | None = None,
    project_root: Path | None = None,
    env: Mapping[str, str] | None = None,
) -> Backend:
    """A started backend: the one asked for, or for ``auto`` Watchman if usable, else built-in.

    ``watchman_sock`` is the socket the user named (``--watchman-sock``); without it the
    Watchman backend uses ``WATCHMAN_SOCK`` from ``env``, else asks the ``watchman``
    binary. ``project_root`` tells Watchman which roots to watch through their enclosing
    project (see :mod:`~reloadd.daemon.backends.watchman_roots`). Raises :class:`~reloadd.protocol.BackendError` for an unknown name, or when
    the backend asked for by name cannot start; :class:`WatchmanUnavailable` when the
    named socket does not answer (unless the built-in watcher was asked for).
    """
    name = requested_name(requested, env)
    environ = os.environ if env is None else env
    backend: Backend
    if name == "builtin":
        backend = builtin_backend(on_changes)
        backend.start()
        log.info("watching files with the built-in watcher (asked for)")
        return backend
    try:
        from reloadd.daemon.backends.watchman import WatchmanBackend
    except ImportError as exc:
        if name == "watchman":
            raise BackendError(f"the Watchman backend cannot be loaded: {exc}") from exc
        reason = f"the Watchman backend cannot be loaded ({exc})"
    else:
        sockpath = watchman_sock or environ.get("WATCHMAN_SOCK") or None
        backend = WatchmanBackend(on_changes, sockpath=sockpath, project_root=project_root)
        try:
            backend.start()
        except BackendError as exc:
            backend.close()
            if watchman_sock:
                raise unreachable(watchman_sock, exc) from exc
            if name == "watchman":
                raise
            reason = str(exc)
        else:
            why = "asked for" if name == "watchman" else "auto: Watchman answered"
            log.info("watching files with Watchman (%s)", why)
            return backend
    log.warning("Watchman is not usable; using the built-in watcher instead. Why: %s", reason)
    backend = builtin_backend(on_changes)
    backend.start()
    log.info("watching files with the built-in watcher (auto: Watchman not usable)")
    return backend


def unreachable(sockpath: str, exc: BackendError) -> WatchmanUnavailable:
    """The error for a Watchman socket the user named that cannot be used (one line)."""
    cause = exc.__cause__ or exc
    return WatchmanUnavailable(
        f"cannot use the Watchman at --watchman-sock {sockpath} ({cause}); start Watchman "
        "there, fix the path, or leave the option out to use the default Watchman"
    )
