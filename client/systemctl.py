"""``systemctl --user``, run for ``reloadd service`` and for clients that look for the service.

Every failure is a :class:`ServiceError` that says what to do: no ``systemctl`` at
all, no user manager to talk to (a session without systemd, a headless machine
without lingering), or a command systemd refused.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Sequence

from reloadd.protocol import ReloaddError

SYSTEMCTL_TIMEOUT = 90.0
"""Seconds any one ``systemctl --user`` may take (``start`` waits for the daemon's READY=1)."""

NO_MANAGER_HINT = (
    "log in to a session that runs systemd, or on a headless machine run "
    "'loginctl enable-linger $USER' once (as root: for that user) and log in again"
)


class ServiceError(ReloaddError):
    """``systemctl --user`` is missing, has no user manager to talk to, or failed."""


def systemctl(*args: str, check: bool = True, timeout: float = SYSTEMCTL_TIMEOUT) -> str:
    """Run ``systemctl --user ARGS``; return its output. With ``check``, a failure raises."""
    program = shutil.which("systemctl")
    if program is None:
        raise ServiceError(
            "systemctl is not installed: the systemd user service needs systemd; "
            "use 'reloadd start' (or let dev servers start the daemon) instead"
        )
    try:
        result = subprocess.run(
            [program, "--user", *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
            env=_environment(),
        )
    except subprocess.TimeoutExpired as exc:
        raise ServiceError(f"'systemctl --user {' '.join(args)}' took over {timeout:g} s") from exc
    except OSError as exc:
        raise ServiceError(f"cannot run systemctl: {exc}") from exc
    if check and result.returncode != 0:
        raise ServiceError(_failure(args, result.stderr))
    return result.stdout


def check_manager() -> None:
    """Raise :class:`ServiceError` with what to do if no systemd user manager answers."""
    systemctl("show", "--property=Version")


def show(unit: str, properties: Sequence[str]) -> dict[str, str]:
    """The unit's properties as ``systemctl --user show`` gives them (missing ones empty)."""
    text = systemctl("show", unit, f"--property={','.join(properties)}")
    found = dict.fromkeys(properties, "")
    for line in text.splitlines():
        name, _, value = line.partition("=")
        if name in found:
            found[name] = value
    return found


def _failure(args: Sequence[str], stderr: str) -> str:
    first = next((line.strip() for line in stderr.splitlines() if line.strip()), "it failed")
    lowered = stderr.lower()
    if any(
        sign in lowered
        for sign in (
            "failed to connect to bus",
            "no medium found",
            "xdg_runtime_dir",
            "connection refused",
        )
    ):
        return f"no systemd user manager answers ({first}); {NO_MANAGER_HINT}"
    return f"'systemctl --user {' '.join(args)}' failed: {first}"


def _environment() -> dict[str, str]:
    """systemctl's environment: ours, in a C locale so that its messages can be read."""
    env = dict(os.environ)
    env["LC_ALL"] = "C"
    env["SYSTEMD_PAGER"] = ""
    return env
