"""The command ``reloadd run`` runs: found before anything starts, and how its end is told.

A command that cannot run is reported the way a shell reports it, before the
supervisor connects to (or starts) a daemon: one line, exit status 127 when the
program is not found and 126 when it cannot be executed.
"""

from __future__ import annotations

import os
import shutil
import signal
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

NOT_FOUND_STATUS = 127
"""The exit status for a program that does not exist (a shell's)."""

NOT_EXECUTABLE_STATUS = 126
"""The exit status for a program that exists but cannot be executed (a shell's)."""

SIGNAL_STATUS_BASE = 128
"""A child killed by signal N is reported as exit status 128 + N, as a shell does."""


@dataclass(frozen=True)
class CannotRun:
    """Why the command cannot be started: the one-line reason and the exit status."""

    reason: str
    status: int


def check_command(
    command: Sequence[str], *, cwd: Path, env: Mapping[str, str] | None = None
) -> CannotRun | None:
    """None when ``command[0]`` names a program that can be executed, else why not."""
    program = command[0]
    path_variable = (os.environ if env is None else env).get("PATH", os.defpath)
    if "/" in program:
        target = cwd / program
        if not target.exists():
            return CannotRun(
                f"cannot run {program!r}: command not found (no such file); check its path",
                NOT_FOUND_STATUS,
            )
        if target.is_dir() or not os.access(target, os.X_OK):
            return CannotRun(
                f"cannot run {program!r}: permission denied (not an executable file)",
                NOT_EXECUTABLE_STATUS,
            )
        return None
    if shutil.which(program, path=path_variable) is None:
        return CannotRun(
            f"cannot run {program!r}: command not found (no such program on PATH); check its name",
            NOT_FOUND_STATUS,
        )
    return None


def shell_status(code: int) -> int:
    """A child's return code as an exit status: itself, or 128 + N when signal N killed it."""
    return SIGNAL_STATUS_BASE - code if code < 0 else code


def how_it_ended(code: int) -> str:
    """``exited with code 1``, ``was killed by SIGKILL``."""
    if code < 0:
        try:
            return f"was killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"was killed by signal {-code}"
    return f"exited with code {code}"
