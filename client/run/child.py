"""One run of the command: started in its own session (so its own process group), stopped as a group.

Stopping sends the stop signal to the whole group, waits up to the timeout for
every process of it to be gone, then SIGKILLs the group and waits again: the
next run starts only once nothing of this one holds the port.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Protocol

KILL_TIMEOUT = 5.0
"""Seconds to wait for the group to be gone after SIGKILL."""

_POLL_START = 0.001
_POLL_MAX = 0.02


class Process(Protocol):
    """What :class:`Child` needs of a started process (``Popen``, or a warm start's child)."""

    @property
    def pid(self) -> int: ...

    def poll(self) -> int | None: ...

    def wait(self, timeout: float | None = None) -> int: ...


class Child:
    """A running (or finished) child process and its process group."""

    def __init__(
        self,
        command: Sequence[str],
        *,
        env: Mapping[str, str],
        cwd: Path,
        pass_fds: Sequence[int] = (),
        start: Callable[[], Process] | None = None,
    ) -> None:
        """Start ``command`` in a session of its own; or, with ``start``, call it instead
        (it starts the process, in a session of its own: ``reloadd run --warm``)."""
        self.started_at = time.time()
        """Unix time just before the process was created: the ``since`` of its files."""
        self.started_monotonic = time.monotonic()
        self.process: Process
        if start is not None:
            self.process = start()
        else:
            self.process = subprocess.Popen(
                list(command),
                env=dict(env),
                cwd=str(cwd),
                start_new_session=True,
                close_fds=True,
                pass_fds=tuple(pass_fds),
            )
        self.pid = self.process.pid
        self.pgid = self.pid  # a session leader leads its own process group
        self.stopping = False
        """True once the supervisor asked it to stop."""

    def poll(self) -> int | None:
        """The exit status of the command (negative: killed by that signal), None while it runs."""
        return self.process.poll()

    def uptime(self) -> float:
        """Seconds since it started."""
        return time.monotonic() - self.started_monotonic

    def stop(
        self,
        stop_signal: signal.Signals,
        timeout: float,
        *,
        meanwhile: Callable[[], None] = lambda: None,
    ) -> bool:
        """Stop the whole group; return False if it needed SIGKILL. ``meanwhile`` runs while waiting."""
        self.stopping = True
        self._signal_group(stop_signal)
        if self._wait_gone(time.monotonic() + timeout, meanwhile):
            return True
        self._signal_group(signal.SIGKILL)
        self._wait_gone(time.monotonic() + KILL_TIMEOUT, meanwhile)
        return False

    def group_alive(self) -> bool:
        """Whether any process of the group is alive (zombies, which hold no port, do not count)."""
        try:
            os.killpg(self.pgid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return _live_members(self.pgid)

    def _signal_group(self, signum: signal.Signals) -> None:
        try:
            os.killpg(self.pgid, signum)
        except (ProcessLookupError, PermissionError):
            pass

    def _wait_gone(self, deadline: float, meanwhile: Callable[[], None]) -> bool:
        pause = _POLL_START
        while True:
            meanwhile()
            if self.process.poll() is not None and not self.group_alive():
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(pause)
            pause = min(_POLL_MAX, pause * 2)


def _live_members(pgid: int) -> bool:
    """Whether /proc lists a process of group ``pgid`` that is not a zombie (True without /proc)."""
    proc = Path("/proc")
    if not proc.is_dir():
        return True
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        # After "(comm)": state, ppid, pgrp, ...
        if len(fields) > 2 and fields[2] == str(pgid) and fields[0] not in ("Z", "X"):
            return True
    return False
