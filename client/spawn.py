"""Starting a daemon in the background, the way ``reloadd start`` and clients do."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from reloadd.protocol import DaemonStartFailed
from reloadd.protocol.endpoint import Endpoint, ensure_private_dir

if TYPE_CHECKING:
    import subprocess

_SPAWNED: list[subprocess.Popen[bytes]] = []
"""Daemons this process started; kept so that Python does not warn about them on exit."""


def spawn_daemon(
    endpoint: Endpoint,
    *,
    backend: str | None = None,
    watchman_sock: str | None = None,
    log_level: str | None = None,
    grace: float | None = None,
    idle_exit: float | None = None,
) -> subprocess.Popen[bytes]:
    """Start ``reloadd serve`` for the endpoint's root in its own session, logging to a file.

    Raises :class:`EndpointError` for an unsafe runtime folder, :class:`DaemonStartFailed`
    when the process cannot be started.

    Without ``idle_exit`` the daemon takes ``$RELOADD_IDLE_EXIT``, else the background
    default (it exits after a while with no dev server; see :mod:`reloadd.client.idle_exit`).
    """
    import subprocess  # here, not at the top: most clients never start a daemon

    ensure_private_dir(endpoint.socket_path.parent)
    command = [sys.executable, "-m", "reloadd.client.cli", "serve", "--root", str(endpoint.root)]
    if backend:
        command += ["--backend", backend]
    if watchman_sock:
        command += ["--watchman-sock", watchman_sock]
    if log_level:
        command += ["--log-level", log_level]
    if grace is not None:
        command += ["--grace", str(grace)]
    if idle_exit is not None:
        command += ["--idle-exit", str(idle_exit)]
    try:
        with open(endpoint.log_path, "ab") as log:
            process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                cwd=str(endpoint.root),
                start_new_session=True,
                close_fds=True,
                env=_daemon_environment(),
            )
    except OSError as exc:
        raise DaemonStartFailed(
            f"cannot start 'reloadd serve' for {endpoint.root} ({exc}); run it yourself to see why"
        ) from exc
    _SPAWNED.append(process)
    return process


def _daemon_environment() -> dict[str, str]:
    env = dict(os.environ)
    # A daemon must not inherit a dev server's own reloader settings.
    env.pop("RUN_MAIN", None)
    env.pop("WERKZEUG_RUN_MAIN", None)
    # Nor the systemd service of the process that starts it: the daemon is not that
    # service (it must not notify it, nor take its never-idle-exit default).
    for name in ("INVOCATION_ID", "NOTIFY_SOCKET", "WATCHDOG_PID", "WATCHDOG_USEC"):
        env.pop(name, None)
    return env


def log_tail(path: Path, lines: int = 5) -> str:
    """The last lines of a daemon log, for error messages."""
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.strip().splitlines()[-lines:])
