"""A ``runserver`` child that exits to restart first answers the requests it has taken.

With the kept socket (:mod:`reloadd.client.django.kept_socket`) a connection that
waits in the backlog is answered by the next child; one the exiting child has
accepted would be cut by its exit. :class:`Drain` wraps one Django ``WSGIServer``:
once :meth:`Drain.finish` is called (at exit) the server accepts nothing more (new
connections wait for the next child), and the exit waits, at most
:data:`DRAIN_TIMEOUT` seconds, until no accepted connection has a request in
progress. A connection accepted whose request line has not come yet is waited for
:data:`ACCEPTED_GRACE` seconds at most (a browser's idle pre-connection must not hold a
restart); a kept-alive connection between two requests is not waited for.
"""

from __future__ import annotations

import threading
from typing import Any

DRAIN_TIMEOUT = 2.0
"""Seconds an exiting child waits for the requests it has accepted to be answered."""

ACCEPTED_GRACE = 0.2
"""Seconds an exiting child waits for the request line of a connection it has just accepted."""


class Drain:
    """Tracks the connections of ``server`` that have a request in progress."""

    def __init__(self, server: Any) -> None:
        self._changed = threading.Condition()
        self._busy: set[int] = set()
        """``id()`` of each connection whose request is being answered."""
        self._accepted: set[int] = set()
        """``id()`` of each connection accepted whose request line has not come yet."""
        self._finishing = False
        get_request, shutdown_request = server.get_request, server.shutdown_request
        drain = self

        def tracked_get_request() -> Any:
            with self._changed:
                if self._finishing:  # caught by socketserver: the connection stays queued
                    raise OSError("runserver restarts: the next process answers this connection")
                request, address = get_request()
                self._accepted.add(id(request))
            return request, address

        def tracked_shutdown_request(request: Any) -> None:
            try:
                shutdown_request(request)
            finally:
                self.set_busy(request, False)

        class Handler(server.RequestHandlerClass):  # type: ignore[misc]
            def parse_request(self) -> bool:
                drain.set_busy(self.connection, True)  # a request line came: busy again
                return bool(super().parse_request())

            def handle_one_request(self) -> None:
                try:
                    super().handle_one_request()
                finally:
                    drain.set_busy(self.connection, False)  # answered; kept alive or closed

        server.get_request = tracked_get_request
        server.shutdown_request = tracked_shutdown_request
        server.RequestHandlerClass = Handler

    @property
    def finishing(self) -> bool:
        """Whether :meth:`finish` has been called (nothing more is accepted)."""
        return self._finishing

    def set_busy(self, connection: Any, busy: bool) -> None:
        """Mark ``connection`` as having a request in progress, or not."""
        with self._changed:
            self._accepted.discard(id(connection))
            if busy:
                self._busy.add(id(connection))
            else:
                self._busy.discard(id(connection))
            self._changed.notify_all()

    def stop_accepting(self) -> None:
        """Accept nothing more, from now on: new connections wait for the next process.

        Returns once no accept is under way (each is made holding the same lock).
        """
        with self._changed:
            self._finishing = True

    def finish(self) -> None:
        """Accept nothing more; wait (bounded) until no accepted request is in progress."""
        with self._changed:
            self._finishing = True
            self._changed.wait_for(lambda: not self._accepted, ACCEPTED_GRACE)
            self._changed.wait_for(lambda: not self._busy, DRAIN_TIMEOUT)
