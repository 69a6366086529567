"""What a warm ``runserver``'s server process imported, told to the parent that keeps the template.

The warm engine preloads, in each template, the third-party modules the children of
its command imported (:meth:`reloadd.client.warm.WarmStarter.learn`). ``reloadd run``
learns them from its startup hook; here the server process reports them itself, over a
pipe its ``runserver`` parent made (:class:`Reports`) and handed to every server
process (:data:`ENV_VAR` names the descriptor and the parent): the names in
``sys.modules`` once the server listens, and the names added since after each request.
One name per line, written in whole lines of at most ``PIPE_BUF`` bytes, so that each
write arrives whole or not at all; a report that would block is dropped (the template
is an optimisation, the server never waits for it).
"""

from __future__ import annotations

import os
import select
import sys
from collections.abc import Iterator

from reloadd.client.django import kept_socket

ENV_VAR = "RELOADD_WARM_REPORT"
"""``FD:PARENT_PID``: the pipe a warm ``runserver`` parent reads its server processes' imports from."""

CHUNK = select.PIPE_BUF
"""Bytes written at most at once: the size up to which a pipe write is atomic."""

MAX_NAME = 1000
"""Longest module name reported (longer ones are not: one line must fit in a chunk)."""

HANDED_OVER = "!handed-over"
"""The line (``!handed-over PID``, never a module name) a server process exiting to restart
writes once it accepts nothing more: the parent may start the next one while this one
finishes exiting. The pid says who: a line the parent reads late (after that process's
exit) must not be taken for the next process's."""


class Reports:
    """The parent's end: a pipe whose write end every server process gets."""

    def __init__(self) -> None:
        self.read_fd, self.write_fd = os.pipe()  # neither inheritable: passed by number only
        os.set_blocking(self.read_fd, False)
        self._partial = b""

    def environment(self) -> dict[str, str]:
        """The variable that tells a server process where to report."""
        return {ENV_VAR: f"{self.write_fd}:{os.getpid()}"}

    def read(self) -> list[str]:
        """The whole names written so far (none if nothing is there)."""
        data = b""
        while True:
            try:
                chunk = os.read(self.read_fd, 65536)
            except BlockingIOError:
                break
            if not chunk:
                break
            data += chunk
        lines = (self._partial + data).split(b"\n")
        self._partial = lines.pop()
        return [line.decode(errors="replace") for line in lines if line]

    @staticmethod
    def handed_over(lines: list[str]) -> set[int]:
        """The pids of the :data:`HANDED_OVER` lines in ``lines`` (from :meth:`read`); those
        lines are removed from them."""
        pids = set()
        kept = []
        for line in lines:
            word, _, pid = line.partition(" ")
            if word == HANDED_OVER:
                if pid.isdigit():
                    pids.add(int(pid))
            else:
                kept.append(line)
        lines[:] = kept
        return pids

    def close(self) -> None:
        """Close both ends."""
        for fd in (self.read_fd, self.write_fd):
            try:
                os.close(fd)
            except OSError:
                pass


class Reporter:
    """The server process's end: reports the module names not reported yet."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.sent: set[str] = set()

    def report(self) -> None:
        """Write the names in ``sys.modules`` not written yet; drop them if the pipe is full."""
        names = [n for n in list(sys.modules) if n not in self.sent and len(n) <= MAX_NAME]
        if not names:
            return
        try:
            for chunk in _chunks(names):
                os.write(self.fd, chunk)
        except (BlockingIOError, BrokenPipeError, OSError):
            return  # the parent is gone or not reading: the next template learns less
        self.sent.update(names)

    def hand_over(self) -> None:
        """Write :data:`HANDED_OVER` (nothing if the pipe is full: the parent waits for the exit)."""
        try:
            os.write(self.fd, f"{HANDED_OVER} {os.getpid()}\n".encode())
        except OSError:
            pass


def _chunks(names: list[str]) -> Iterator[bytes]:
    chunk = b""
    for name in names:
        line = name.encode(errors="replace") + b"\n"
        if len(chunk) + len(line) > CHUNK:
            yield chunk
            chunk = b""
        chunk += line
    if chunk:
        yield chunk


_reporter: Reporter | None = None


def reporter() -> Reporter | None:
    """This server process's reporter, if its ``runserver`` parent keeps a warm template."""
    global _reporter
    if _reporter is None:
        fd_text, _, parent = os.environ.get(ENV_VAR, "").partition(":")
        if not (fd_text.isdigit() and parent.isdigit() and kept_socket.started_by(int(parent))):
            return None
        fd = int(fd_text)
        try:
            os.set_blocking(fd, False)
            os.set_inheritable(fd, False)  # this process's own children do not get it
        except OSError:
            return None
        os.environ.pop(ENV_VAR, None)  # nor are they told of it
        _reporter = Reporter(fd)
    return _reporter


def report(**kwargs: object) -> None:
    """Report what is new, if this process reports (a ``request_finished`` receiver too)."""
    found = reporter()
    if found is not None:
        found.report()


_restarting = False
_handed_over = False


def restarting() -> None:
    """This server process exits to restart (code 3): if its server is on the kept socket,
    it accepts nothing more from now on, and the parent is told at once (:func:`hand_over`)."""
    global _restarting
    _restarting = True
    if kept_socket.stop_accepting():
        hand_over()


def hand_over() -> None:
    """Called once the server accepts nothing more (as soon as the restart is decided, or by
    the kept socket's drain at exit): if this process exits to restart, tell the parent, once,
    that it may start the next one now.

    What is left of this process's exit (the interpreter's shutdown) then overlaps the next
    one's start. Only a server on the kept socket hands over: its drain guarantees that a
    connection made from here on waits for the next process.
    """
    global _handed_over
    found = reporter() if _restarting and not _handed_over else None
    if found is not None:
        _handed_over = True
        found.hand_over()


def install_child() -> None:
    """In a server process of a warm ``runserver``: report once it listens and after each request."""
    if reporter() is None:
        return
    from django.core.signals import request_finished  # type: ignore[import-untyped]

    from reloadd.client.django import lifecycle

    lifecycle.on_listening.append(report)
    request_finished.connect(report, dispatch_uid="reloadd-warm-report")
