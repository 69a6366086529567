"""The daemon's one wake-up primitive: a non-blocking pipe a thread writes to wake a poller.

Every thread hand-over in the daemon (the backends' change batches, finished root
watches, signals, a reader thread told to stop) wakes its waiting side through a
:class:`Wakeup`: the waiting side polls :meth:`Wakeup.fileno` next to its other
descriptors and calls :meth:`Wakeup.clear` once woken.
"""

from __future__ import annotations

import os


class Wakeup:
    """A pipe whose read end becomes readable after :meth:`set`, until :meth:`clear`."""

    def __init__(self) -> None:
        self._read_fd, self._write_fd = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self._closed = False

    def fileno(self) -> int:
        """The descriptor to poll for reading."""
        return self._read_fd

    @property
    def write_fd(self) -> int:
        """The write end, for ``signal.set_wakeup_fd``."""
        return self._write_fd

    def set(self) -> None:
        """Wake the poller; never blocks, and does nothing once closed."""
        if self._closed:
            return
        try:
            os.write(self._write_fd, b"!")
        except BlockingIOError:  # the pipe is full: the poller is awake already
            pass

    def clear(self) -> None:
        """Consume every pending wake-up."""
        if not self._closed:
            drain_pipe(self._read_fd)

    def close(self) -> None:
        """Close both ends; later :meth:`set` calls are ignored."""
        if self._closed:
            return
        self._closed = True
        os.close(self._read_fd)
        os.close(self._write_fd)


def drain_pipe(fd: int) -> None:
    """Read a non-blocking pipe until it is empty (its bytes are only wake-up signals)."""
    try:
        while os.read(fd, 4096):
            pass
    except BlockingIOError:
        pass
