"""The supervisor's end of one template process: start it, wait until it is ready, ask it to fork.

See :mod:`reloadd.client.warm.template` for the conversation on the control socket.
Every failure of the template (it died, it sent nonsense, it did not answer in time)
is a :class:`TemplateFailed` with a one-line reason; the caller starts cold instead.
"""

from __future__ import annotations

import array
import json
import select
import signal
import socket
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reloadd.client.run.child_hook import TEMPLATE_ENV
from reloadd.client.run.command import how_it_ended
from reloadd.client.warm.plan import Plan
from reloadd.client.warm.strays import now_ticks, stop_strays
from reloadd.protocol import ReloaddError

TEMPLATE = Path(__file__).with_name("template.py")
"""The template's bootstrap, run by the command's own interpreter."""

FORK_TIMEOUT = 5.0
"""Seconds a ready template may take to answer a fork request."""

STOP_TIMEOUT = 2.0
"""Seconds a template has to exit after SIGTERM before it is SIGKILLed."""

MAX_FDS = 64
"""Most descriptors one fork request carries (the template's ``MAX_FDS``, which must agree):
with more to hand over, the start is cold."""

MAX_MESSAGE = 64 * 1024 * 1024
"""Largest line a template may send (its ready message lists every preloaded file)."""


class TemplateFailed(ReloaddError):
    """The template cannot fork the next child; the message says why, in one line."""

    def __init__(self, message: str, *, ended: bool = True) -> None:
        super().__init__(message)
        self.ended = ended
        """False when it only did not answer in time (it may still be working)."""


@dataclass(frozen=True)
class Ready:
    """What a template preloaded, as its ``ready`` message says."""

    files: dict[str, tuple[int, int]]
    """Each module file it imported: ``(mtime_ns, size)`` when it did."""
    skipped: dict[str, str] = field(default_factory=dict)
    spoiled: str | None = None
    """Why it must not fork, if it must not."""
    spoiled_by: str | None = None
    """The module whose import spoiled it (left out from now on), if one did."""
    imported: int = 0
    seconds: float = 0.0

    @classmethod
    def from_message(cls, message: Mapping[str, Any]) -> Ready:
        """From the decoded line; :class:`TemplateFailed` if it is not a ready message."""
        try:
            files = {str(p): (int(m), int(s)) for p, (m, s) in dict(message["files"]).items()}
            spoiled, spoiled_by = message.get("spoiled"), message.get("spoiled_by")
            return cls(
                files,
                {str(k): str(v) for k, v in dict(message.get("skipped", {})).items()},
                None if spoiled is None else str(spoiled),
                None if spoiled_by is None else str(spoiled_by),
                int(message.get("imported", 0)),
                float(message.get("seconds", 0.0)),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise TemplateFailed(f"the template sent an unexpected message ({exc})") from None


class TemplateHandle:
    """One running template for ``plan``, started at construction (in the background)."""

    def __init__(
        self,
        plan: Plan,
        *,
        env: Mapping[str, str],
        cwd: Path,
        root: Path,
        learned: Path,
    ) -> None:
        self.env = dict(env)
        self.started = time.monotonic()
        self.ready: Ready | None = None
        self.waited = False
        """A restart already waited for it to be ready, in vain."""
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        self._buffer = b""
        try:
            self.process = subprocess.Popen(
                [
                    plan.interpreter,
                    *plan.options,
                    str(TEMPLATE),
                    str(theirs.fileno()),
                    json.dumps(plan.as_json()),
                    str(root),
                    str(learned),
                ],
                env={**self.env, TEMPLATE_ENV: "1"},
                cwd=str(cwd),
                pass_fds=(theirs.fileno(),),
                start_new_session=True,  # never in the terminal's foreground group (Ctrl+C)
            )
        except OSError:
            ours.close()
            raise
        finally:
            theirs.close()
        self.pid = self.process.pid
        self.socket = ours

    def alive(self) -> bool:
        """Whether the template process still runs."""
        return self.process.poll() is None

    def wait_ready(self, timeout: float) -> Ready:
        """Its ready message, waiting up to ``timeout`` seconds; :class:`TemplateFailed` otherwise."""
        if self.ready is None:
            self.ready = Ready.from_message(self._read(timeout, "ready"))
        return self.ready

    def fork(
        self, *, listen_fds: Sequence[int], pass_fds: Sequence[int], timeout: float = FORK_TIMEOUT
    ) -> int:
        """Ask for the next child; its pid (the child is then this process's own)."""
        request = json.dumps({"kind": "fork", "listen": len(listen_fds), "passed": list(pass_fds)})
        fds = array.array("i", [0, 1, 2, *listen_fds, *pass_fds])
        if len(fds) > MAX_FDS:
            raise TemplateFailed(f"more than {MAX_FDS} descriptors to hand over", ended=False)
        asked = now_ticks()
        try:
            self.socket.sendmsg(
                [request.encode()], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, fds.tobytes())]
            )
        except OSError as exc:
            raise self._unreachable(exc, "forked") from None
        try:
            answer = self._read(timeout, "forked")
        except TemplateFailed:
            self.stop()  # then no fork of it can be started any more
            stop_strays(asked, template=self.pid)
            raise
        if answer.get("kind") == "error":
            raise TemplateFailed(str(answer.get("reason", "the template refused to fork")))
        pid = answer.get("pid")
        if answer.get("kind") != "forked" or not isinstance(pid, int):
            raise TemplateFailed(f"the template answered {answer!r}")
        return pid

    def stop(self) -> None:
        """Stop the template (by its pid) and wait for it."""
        self.socket.close()
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def _read(self, timeout: float, what: str) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while b"\n" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TemplateFailed(
                    f"the template did not answer within {timeout:.1f} s", ended=False
                )
            try:
                readable, _, _ = select.select([self.socket], [], [], left)
                chunk = self.socket.recv(1 << 20) if readable else None
            except OSError as exc:
                raise self._unreachable(exc, what) from None
            if chunk == b"":
                raise TemplateFailed(
                    f"the template {_exit_status(self.process)} before it was {what}"
                )
            if chunk:
                self._buffer += chunk
                if len(self._buffer) > MAX_MESSAGE:
                    raise TemplateFailed("the template sent a message too long")
        line, _, self._buffer = self._buffer.partition(b"\n")
        try:
            message = json.loads(line)
        except ValueError:
            message = None
        if not isinstance(message, dict):
            raise TemplateFailed("the template sent an unexpected message")
        return message

    def _unreachable(self, error: OSError, what: str) -> TemplateFailed:
        ended = _exit_status(self.process)
        if ended != "closed its socket":
            return TemplateFailed(f"the template {ended} before it was {what}")
        return TemplateFailed(f"the template cannot be reached ({error.strerror or error})")


def _exit_status(process: subprocess.Popen[bytes]) -> str:
    try:
        code = process.wait(1.0)
    except subprocess.TimeoutExpired:
        return "closed its socket"
    return how_it_ended(code)
