"""``reloadd run``'s one wake-up primitive: a pipe another thread (or a signal) writes to wake a selector.

The supervisor's main loop waits in a selector; the watcher thread wakes it
when it has changes, and ``signal.set_wakeup_fd`` when a signal arrives. A
:class:`Wakeup` is safe to :meth:`~Wakeup.set` from any thread, also after
:meth:`~Wakeup.close`: the watcher thread may outlive ``reloadd run``'s wait for
it, and must then never write into a descriptor number the process has since
reused for something else. (The client may not import ``reloadd.daemon``, which
has its own twin in ``daemon/wakeup.py``.)
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
        """The descriptor to select on for reading."""
        return self._read_fd

    @property
    def write_fd(self) -> int:
        """The write end, for ``signal.set_wakeup_fd`` (which writes without the lock: close
        only after restoring the previous wakeup fd)."""
        return self._write_fd

    def set(self) -> None:
        """Wake the selector; never blocks, and does nothing once closed."""
        with self._lock:
            if self._closed:
                return
            try:
                os.write(self._write_fd, b"!")
            except BlockingIOError:  # the pipe is full: the selector is awake already
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
