"""The one wake-up primitive of the daemon and of ``reloadd run``: a pipe a thread writes to wake a poller.

Every thread hand-over (the daemon's backend batches, finished root watches and
signals; ``reloadd run``'s watcher thread and signals) wakes its waiting side
through a :class:`Wakeup`: the waiting side polls :meth:`Wakeup.fileno` next to its
other descriptors and calls :meth:`Wakeup.clear` once woken.

It lives here, with the wire format, because the client and the daemon may not
import each other and both need it; like the rest of ``reloadd.protocol`` it uses
the standard library only. :meth:`~Wakeup.set` is safe from any thread, also after
:meth:`~Wakeup.close`: a thread may outlive its owner's wait for it, and must then
never write into a descriptor number the process has since reused.
"""

from __future__ import annotations

import os
import threading


class Wakeup:
    """A pipe whose read end becomes readable after :meth:`set`, until :meth:`clear`."""

    def __init__(self) -> None:
        self._read_fd, self._write_fd = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self._lock = threading.Lock()
        """Held while writing and while closing, so no write reaches a closed descriptor."""
        self._closed = False

    def fileno(self) -> int:
        """The descriptor to poll (or select) on for reading."""
        return self._read_fd

    @property
    def write_fd(self) -> int:
        """The write end, for ``signal.set_wakeup_fd`` (which writes without the lock: close
        only after restoring the previous wakeup fd)."""
        return self._write_fd

    def set(self) -> None:
        """Wake the poller; never blocks, and does nothing once closed."""
        with self._lock:
            if self._closed:
                return
            try:
                os.write(self._write_fd, b"!")
            except BlockingIOError:  # the pipe is full: the poller is awake already
                pass

    def clear(self) -> None:
        """Consume every pending wake-up."""
        with self._lock:
            if self._closed:
                return
            try:
                while os.read(self._read_fd, 4096):
                    pass
            except BlockingIOError:
                pass

    def close(self) -> None:
        """Close both ends; later :meth:`set` and :meth:`clear` calls do nothing."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            os.close(self._read_fd)
            os.close(self._write_fd)
