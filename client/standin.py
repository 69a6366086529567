"""A kept listening socket while no server serves: answer the connections instead of leaving them hanging.

Shared by ``reloadd run --socket`` (:mod:`reloadd.client.run.supervisor`) and the
Django integration (:mod:`reloadd.client.django.kept_socket`). The kept socket
stays open while the server is down, so the kernel keeps
accepting connections into its backlog. While the child restarts, that is the
point (the next child answers them); but once a child has crashed or failed
to start, nothing would answer them until the next change. Meanwhile a
:class:`StandIn`, in a thread of its own, accepts them: a request that starts
like HTTP gets a ``503 Service Unavailable`` page saying what happened (the
error, its file and line) and that the server restarts on the next change;
anything else is closed. :meth:`StandIn.stop` returns only once the thread
accepts no more, so the next child finds every new connection waiting for it.
"""

from __future__ import annotations

import re
import selectors
import socket
import threading
import time
from dataclasses import dataclass

from reloadd.client.browser.outage import browser_answer
from reloadd.protocol import Crash
from reloadd.protocol.wakeup import Wakeup

HEAD_LIMIT = 64 * 1024
"""Bytes of a request's head read at most; a longer head is answered as it is."""

READ_TIMEOUT = 2.0
"""Seconds a connection may take to send its request line and headers before it is closed."""

MAX_CONNECTIONS = 64
"""Connections read at once; more are closed at once, unanswered."""

SEND_TIMEOUT = 1.0
"""Seconds the page may take to be sent to one client."""

STOP_TIMEOUT = 5.0
"""Seconds :meth:`StandIn.stop` waits for the thread."""

RETRY_AFTER = 2
"""The ``Retry-After`` header's seconds: a browser may retry by then."""

_REQUEST_LINE = re.compile(rb"[A-Z]{3,10} \S+ HTTP/\d")
_METHOD_PREFIX = re.compile(rb"[A-Z]{1,10}( |$)")


@dataclass(frozen=True)
class Outage:
    """Why no child serves, for the page: one line each."""

    what: str
    """How the child ended: ``python app.py exited with code 1 after 0.2 s``."""
    error: str = ""
    """The error and where: ``greeting.py:1: SyntaxError: unterminated string literal``."""
    hint: str = ""
    """What to do, when reloadd knows better than "fix it and save"."""
    crash: Crash | None = None
    """The error, its file and line, for the pages' overlay (else they show ``error``)."""

    def page(self) -> str:
        """The body of the 503 answer (plain text)."""
        lines = ["503 Service Unavailable: the dev server is not running.", "", f"{self.what}."]
        if self.error:
            lines += ["", f"    {self.error}"]
        if self.hint:
            lines += ["", self.hint]
        todo = "fix the error, save," if self.error or self.hint else "save one of them"
        lines += ["", f"reloadd restarts it at the next change to one of its files: {todo}"]
        lines += ["and reload this page."]
        return "\n".join(lines) + "\n"


def http_response(outage: Outage, *, head_only: bool = False) -> bytes:
    """The whole ``503`` answer, ``Connection: close``."""
    body = outage.page().encode()
    head = (
        "HTTP/1.1 503 Service Unavailable\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n"
        f"Content-Length: {len(body)}\r\n"
        f"Retry-After: {RETRY_AFTER}\r\n"
        "Cache-Control: no-store\r\n"
        "Connection: close\r\n\r\n"
    ).encode()
    return head if head_only else head + body


def classify(head: bytes) -> str:
    """``"http"`` for a complete HTTP request head, ``"more"`` while it may become one,
    ``"other"`` for anything else."""
    if _REQUEST_LINE.match(head):
        ends = b"\r\n\r\n" in head or b"\n\n" in head or len(head) >= HEAD_LIMIT
        return "http" if ends else "more"
    first = head.split(b"\r\n", 1)[0].split(b"\n", 1)[0]
    if len(head) < HEAD_LIMIT and first == head and _METHOD_PREFIX.match(first[:11] or b"A"):
        return "more"  # the request line is not complete yet
    return "other"


@dataclass
class _Connection:
    sock: socket.socket
    deadline: float
    head: bytes = b""
    held: bool = False
    """A page's event stream, answered and kept open until the stand-in stops."""


class StandIn:
    """Answers connections on the kept sockets, from a thread, between :meth:`start` and :meth:`stop`."""

    def __init__(self, sockets: list[socket.socket]) -> None:
        self.sockets = sockets
        self.answered = 0
        """HTTP requests answered with the page so far."""
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._finish_open = False
        self._wakeup = Wakeup()

    @property
    def running(self) -> bool:
        """Whether the thread answers now."""
        return self._thread is not None

    def start(self, outage: Outage) -> None:
        """Answer from now on, with this page (a running stand-in is restarted with it)."""
        if not self.sockets:
            return
        self.stop()
        self._stop.clear()
        self._wakeup.clear()
        self._thread = threading.Thread(
            target=self._serve, args=(outage,), name="reloadd-stand-in", daemon=True
        )
        self._thread.start()

    def stop(self, *, finish: bool = False) -> None:
        """Stop answering; on return the thread accepts nothing more.

        With ``finish``, the connections already accepted are answered (or closed
        after :data:`READ_TIMEOUT`) first: for a process about to exit.
        """
        thread, self._thread = self._thread, None
        if thread is None:
            return
        self._finish_open = finish
        self._stop.set()
        self._wakeup.set()
        thread.join(STOP_TIMEOUT)

    def close(self) -> None:
        """Stop, and free the wake-up pipe."""
        self.stop()
        self._wakeup.close()

    def _serve(self, outage: Outage) -> None:
        answers = (http_response(outage), http_response(outage, head_only=True))
        connections: dict[int, _Connection] = {}
        with selectors.DefaultSelector() as selector:
            selector.register(self._wakeup, selectors.EVENT_READ, None)
            for listener in self.sockets:
                listener.setblocking(False)
                selector.register(listener, selectors.EVENT_READ, listener)
            listening = True
            try:
                while True:
                    if self._stop.is_set():
                        if listening:
                            listening = False
                            selector.unregister(self._wakeup)
                            for listener in self.sockets:
                                selector.unregister(listener)
                        pending = [c for c in connections.values() if not c.held]
                        if not (self._finish_open and pending):
                            break
                    timeout = min(
                        (c.deadline for c in connections.values() if not c.held), default=None
                    )
                    wait = None if timeout is None else max(0.0, timeout - time.monotonic())
                    for key, _ in selector.select(wait):
                        if key.data is None:
                            continue  # the wake-up: the loop condition says why
                        if isinstance(key.data, socket.socket):
                            self._accept(key.data, selector, connections)
                        else:
                            self._read(key.data, selector, connections, answers, outage)
                    now = time.monotonic()
                    for conn in [c for c in connections.values() if c.deadline <= now]:
                        self._finish(conn, selector, connections, None)
            finally:
                for conn in list(connections.values()):
                    self._finish(conn, selector, connections, None)
                if listening:
                    for listener in self.sockets:
                        selector.unregister(listener)

    def _accept(
        self,
        listener: socket.socket,
        selector: selectors.BaseSelector,
        connections: dict[int, _Connection],
    ) -> None:
        try:
            sock, _ = listener.accept()
        except (BlockingIOError, InterruptedError, ConnectionAbortedError):
            return
        except OSError:
            return  # e.g. out of descriptors: the connection stays in the backlog
        if len(connections) >= MAX_CONNECTIONS:
            sock.close()
            return
        sock.setblocking(False)
        conn = _Connection(sock, time.monotonic() + READ_TIMEOUT)
        connections[sock.fileno()] = conn
        selector.register(sock, selectors.EVENT_READ, conn)

    def _read(
        self,
        conn: _Connection,
        selector: selectors.BaseSelector,
        connections: dict[int, _Connection],
        answers: tuple[bytes, bytes],
        outage: Outage,
    ) -> None:
        """Read what came; answer a whole HTTP head, close on anything else.

        A browser's requests get the answers of :mod:`reloadd.client.browser.outage`: the
        page's event stream is held open (closed when the page goes, or the stand-in stops).
        """
        try:
            data = conn.sock.recv(HEAD_LIMIT if conn.held else HEAD_LIMIT - len(conn.head))
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if conn.held:
            if not data:
                self._finish(conn, selector, connections, None)
            return
        conn.head += data
        kind = classify(conn.head)
        if kind == "http":
            special = browser_answer(conn.head, outage)
            if special is not None and special.hold:
                self._hold(conn, selector, connections, special.data)
                return
            answer = answers[1] if conn.head.startswith(b"HEAD ") else answers[0]
            self._finish(conn, selector, connections, answer if special is None else special.data)
        elif kind == "other" or not data:
            self._finish(conn, selector, connections, None)

    def _hold(
        self,
        conn: _Connection,
        selector: selectors.BaseSelector,
        connections: dict[int, _Connection],
        data: bytes,
    ) -> None:
        """Send the start of an event stream, and keep the connection until the end."""
        try:
            conn.sock.settimeout(SEND_TIMEOUT)
            self.answered += 1
            conn.sock.sendall(data)
            conn.sock.setblocking(False)
        except OSError:
            self._finish(conn, selector, connections, None)
            return
        conn.held = True
        conn.deadline = float("inf")

    def _finish(
        self,
        conn: _Connection,
        selector: selectors.BaseSelector,
        connections: dict[int, _Connection],
        response: bytes | None,
    ) -> None:
        connections.pop(conn.sock.fileno(), None)
        selector.unregister(conn.sock)
        try:
            if response is not None:
                conn.sock.settimeout(SEND_TIMEOUT)
                self.answered += 1  # before sending: whoever has read the page sees it counted
                conn.sock.sendall(response)
                conn.sock.shutdown(socket.SHUT_WR)
                conn.sock.setblocking(False)
                conn.sock.recv(HEAD_LIMIT)  # a request body left unread would make close() reset
        except OSError:
            pass  # the client went away: nothing to tell it
        finally:
            conn.sock.close()
