"""A child started by :class:`~reloadd.client.warm.starter.WarmStarter`, forked or not: wait, poll, signal.

A forked child is the supervisor's own child (adopted as a subreaper), so it is
waited for with ``waitpid`` and its status is exactly what a cold start would give:
the exit code, or minus the signal that killed it (as ``subprocess`` has it).

A subreaper also adopts the processes a child leaves behind when it dies (its
server's workers, say). Each :meth:`StartedChild.poll` once the child has ended
reaps those of its process group, so none is left a zombie.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time

_POLL_START = 0.001
_POLL_MAX = 0.02


def status_of(wait_status: int) -> int:
    """A ``waitpid`` status as ``subprocess`` has it: the exit code, or minus the signal."""
    if os.WIFSIGNALED(wait_status):
        return -os.WTERMSIG(wait_status)
    return os.waitstatus_to_exitcode(wait_status)


class StartedChild:
    """One child: ``pid``, ``warm`` (forked from a template), ``poll``, ``wait``, ``send_signal``."""

    def __init__(
        self, pid: int, *, warm: bool, process: subprocess.Popen[bytes] | None = None
    ) -> None:
        self.pid = pid
        self.warm = warm
        """True when forked from a template, False for a cold start."""
        self.returncode: int | None = None
        self._process = process

    @classmethod
    def cold(cls, process: subprocess.Popen[bytes]) -> StartedChild:
        """A child started the usual way (``Popen``)."""
        return cls(process.pid, warm=False, process=process)

    def poll(self) -> int | None:
        """The exit status (negative: killed by that signal), None while it runs."""
        if self.returncode is None:
            if self._process is not None:
                self.returncode = self._process.poll()
            else:
                try:
                    pid, wait_status = os.waitpid(self.pid, os.WNOHANG)
                except ChildProcessError:
                    pid, wait_status = self.pid, 0  # reaped elsewhere: nothing more to know
                if pid == self.pid:
                    self.returncode = status_of(wait_status)
        if self.returncode is not None:
            self._reap_group()
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        """Wait for the exit status; ``subprocess.TimeoutExpired`` after ``timeout`` seconds."""
        deadline = None if timeout is None else time.monotonic() + timeout
        pause = _POLL_START
        while True:
            code = self.poll()
            if code is not None:
                return code
            if deadline is not None and time.monotonic() >= deadline:
                raise subprocess.TimeoutExpired(str(self.pid), timeout or 0.0)
            time.sleep(pause)
            pause = min(_POLL_MAX, pause * 2)

    def send_signal(self, signum: int) -> None:
        """Send ``signum`` to the child, if it has not been waited for."""
        if self.returncode is None:
            try:
                os.kill(self.pid, signum)
            except ProcessLookupError:
                pass

    def kill(self) -> None:
        """SIGKILL the child."""
        self.send_signal(signal.SIGKILL)

    def _reap_group(self) -> None:
        """Reap the zombies of the child's process group that this process adopted."""
        while True:
            try:
                found = os.waitid(os.P_PGID, self.pid, os.WEXITED | os.WNOHANG)
            except (ChildProcessError, OSError):
                return
            if found is None:
                return
