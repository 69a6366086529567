"""The supervisor's end of the children's reports: a Unix datagram socket in the private runtime folder.

Every Python process of the command (the child, and any Python it starts that
inherits the environment) sends the files it imports here; see
:mod:`reloadd.client.run.child_hook` for the sending side and the format.
"""

from __future__ import annotations

import os
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path

from reloadd.client.run.child_hook import (
    BIND_FAILED,
    CRASHED,
    FAILED,
    IMPORTED,
    MODULES,
    REPORT_ENV,
    SEPARATOR,
)
from reloadd.protocol import Crash as ProtocolCrash
from reloadd.protocol.endpoint import ensure_private_dir, runtime_dir

CRASH_FIELDS = 6
"""The fields of a ``CRASHED`` datagram (see ``child_hook.crash_fields``)."""

RECEIVE_BUFFER = 1 << 20
"""Bytes of datagrams the kernel may hold for the supervisor (the children block when it is full)."""


@dataclass(frozen=True)
class Crash:
    """Where and why a child ended with an uncaught exception."""

    path: str
    """The file of the syntax error, or of the traceback's innermost frame in the project
    (else its innermost frame; "" if none)."""
    line: int | None
    error: str
    """The exception's last line: ``SyntaxError: invalid syntax``."""
    errno: int | None = None
    """The ``errno`` of an ``OSError``."""
    kind: str = ""
    """The exception's class name: ``SyntaxError``."""
    message: str = ""
    """The exception's message: ``invalid syntax``."""

    @classmethod
    def from_fields(cls, fields: list[str]) -> Crash | None:
        """From the fields of a ``CRASHED`` datagram; None if they are not six."""
        if len(fields) != CRASH_FIELDS:
            return None
        path, line, error, number, kind, message = fields
        return cls(
            path,
            int(line) if line.isdigit() else None,
            error,
            int(number) if number.lstrip("-").isdigit() else None,
            kind,
            message,
        )

    def report(self) -> ProtocolCrash:
        """As the protocol's ``Crash``, for the daemon (``state: crashed``)."""
        kind = self.kind or self.error.partition(":")[0] or "Exception"
        message = self.message or self.error.partition(": ")[2]
        return ProtocolCrash(kind, message, self.path, self.line or 0)


@dataclass
class Batch:
    """What one read of the socket brought: files imported, files of a failure, and since when."""

    imported: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    since: float = 0.0
    """Every path here was sent after this Unix time (the end of the previous read)."""
    crash: Crash | None = None
    """The last crash reported, if any."""
    bind_failed: list[int] = field(default_factory=list)
    """Ports a child could not bind because they were in use (reported under ``--socket``)."""
    modules: list[str] = field(default_factory=list)
    """Names of modules the children imported (reported under ``--warm`` only)."""


class ReportSocket:
    """Receives the children's reports; its address goes to them in ``RELOADD_RUN_REPORT``."""

    def __init__(self, directory: Path | None = None) -> None:
        folder = ensure_private_dir(directory or runtime_dir())
        self.path = folder / f"run-{os.getpid()}.sock"
        self.path.unlink(missing_ok=True)
        self.socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        try:
            self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER)
            self.socket.bind(str(self.path))
        except OSError:
            self.socket.close()
            raise
        self.socket.setblocking(False)
        self._quiet_since = time.time()

    def environment(self) -> dict[str, str]:
        """The variable that tells a child's startup hook where to report."""
        return {REPORT_ENV: str(self.path)}

    def fileno(self) -> int:
        """For selectors."""
        return self.socket.fileno()

    def reset_since(self, at: float) -> None:
        """Nothing queued was sent after ``at`` (a child started then, after a full read)."""
        self._quiet_since = at

    def read(self) -> Batch:
        """Everything queued now, without blocking."""
        batch = Batch(since=self._quiet_since)
        while True:
            before = time.time()
            try:
                data = self.socket.recv(1 << 17)
            except (BlockingIOError, InterruptedError):
                self._quiet_since = before
                return batch
            except OSError:
                return batch
            kind, payload = data[:1], data[1:]
            if kind == CRASHED:
                fields = [os.fsdecode(raw) for raw in payload.split(SEPARATOR)]
                batch.crash = Crash.from_fields(fields) or batch.crash
                continue
            if kind == BIND_FAILED:
                batch.bind_failed.extend(
                    int(raw) for raw in payload.split(SEPARATOR) if raw.isdigit()
                )
                continue
            paths = [os.fsdecode(raw) for raw in payload.split(SEPARATOR) if raw]
            if kind == MODULES:
                batch.modules.extend(paths)
            elif kind == IMPORTED:
                batch.imported.extend(paths)
            elif kind == FAILED:
                batch.failed.extend(paths)

    def close(self) -> None:
        """Close the socket and remove its file."""
        self.socket.close()
        self.path.unlink(missing_ok=True)
