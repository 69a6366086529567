"""Starting a daemon in the background, the way ``reloadd start`` and clients do.

When the project's systemd user service is installed (``reloadd service install``),
the daemon is the service's: a client never starts a second one beside it. If the
unit is starting, restarting or running, what is started is ``systemctl --user start
UNIT``, which returns once the service's daemon is ready (at once if it runs), and the
client then finds that daemon. If the unit is installed but stopped or failed, the
client says so once on stderr and starts a daemon of its own, as without systemd: a
``systemctl --user stop`` is respected, and a broken unit leaves no dev server deaf.
"""

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
    ensure_private_dir(endpoint.socket_path.parent)
    command = _service_start(endpoint.root)
    if command is not None:
        return _start(command, endpoint)
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
    return _start(command, endpoint)


def _start(command: list[str], endpoint: Endpoint) -> subprocess.Popen[bytes]:
    import subprocess  # here, not at the top: most clients never start a daemon

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
            f"cannot start '{' '.join(command[:3])} ...' for {endpoint.root} ({exc}); "
            "run it yourself to see why"
        ) from exc
    _SPAWNED.append(process)
    return process


_SERVICE_STATES_TO_WAIT_FOR = ("active", "activating", "reloading")
"""Unit states in which systemd runs, or is (re)starting, the project's daemon (not while
it stops: a ``systemctl --user stop`` is not undone)."""

_said_stopped: set[str] = set()
"""Units this process already said are installed but stopped."""


def _service_start(root: Path) -> list[str] | None:
    """``systemctl --user start UNIT`` if the project's unit runs or is (re)starting; else None.

    Costs one ``stat`` when no unit is installed (the usual case).
    """
    from reloadd.client.service_unit import socket_unit_name, unit_name, user_unit_dir

    unit, socket_unit = unit_name(root), socket_unit_name(root)
    folder = user_unit_dir()
    socket_installed = (folder / "sockets.target.wants" / socket_unit).exists()
    if not socket_installed and not (folder / "default.target.wants" / unit).exists():
        return None
    from reloadd.client.systemctl import ServiceError, show

    try:
        state = show(unit, ("ActiveState",))["ActiveState"]
        if socket_installed and state not in _SERVICE_STATES_TO_WAIT_FOR:
            # Listening, the socket starts the service at a connection; so may we.
            state = show(socket_unit, ("ActiveState",))["ActiveState"]
    except ServiceError:
        return None  # no user manager here (another session): a daemon of our own
    if state in _SERVICE_STATES_TO_WAIT_FOR:
        return ["systemctl", "--user", "--no-ask-password", "start", unit]
    if unit not in _said_stopped:
        _said_stopped.add(unit)
        print(
            f"reloadd: the systemd service {unit} is installed but {state or 'not loaded'}; "
            f"starting a daemon for {root} outside it ('systemctl --user start {unit}' "
            "runs the service instead)",
            file=sys.stderr,
        )
    return None


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
