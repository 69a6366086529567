"""Picking the watch backend: the argument, else ``RELOADD_BACKEND``, else ``auto``.

``auto`` prefers Watchman and falls back to the built-in watcher with one warning
saying why; naming a backend explicitly means its errors are raised, not worked around.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping

from reloadd.daemon.backends.base import Backend, ChangeSink
from reloadd.daemon.backends.builtin import builtin_backend
from reloadd.protocol.errors import BackendError

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
    env: Mapping[str, str] | None = None,
) -> Backend:
    """A started backend: the one asked for, or for ``auto`` Watchman if usable, else built-in.

    Raises :class:`~reloadd.protocol.BackendError` for an unknown name, or when the
    backend asked for by name cannot start.
    """
    name = requested_name(requested, env)
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
        backend = WatchmanBackend(on_changes, sockpath=watchman_sock)
        if name == "watchman":
            backend.start()
            log.info("watching files with Watchman (asked for)")
            return backend
        try:
            backend.start()
        except BackendError as exc:
            backend.close()
            reason = str(exc)
        else:
            log.info("watching files with Watchman (auto: Watchman answered)")
            return backend
    log.warning("Watchman is not usable; using the built-in watcher instead. Why: %s", reason)
    backend = builtin_backend(on_changes)
    backend.start()
    log.info("watching files with the built-in watcher (auto: Watchman not usable)")
    return backend
