"""The ``sd_notify(3)`` protocol: how the daemon tells systemd it is ready, busy or stopping.

systemd gives a ``Type=notify`` service the address of a datagram socket in
``$NOTIFY_SOCKET``; each datagram is newline-separated ``NAME=value`` assignments
(``READY=1``, ``STATUS=...``, ``WATCHDOG=1``, ``STOPPING=1``). With the
``reloadd[systemd]`` extra the datagrams are sent by systemd-python's
``systemd.daemon.notify`` (libsystemd's ``sd_notify``); without it, by the few
lines below, which speak the same protocol. Outside systemd there is no socket and
nothing is sent.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Callable, Mapping

log = logging.getLogger("reloadd.daemon")

Sender = Callable[[str], bool]
"""Sends one notify datagram; True if it was sent."""


def _builtin_sender(address: str) -> Sender:
    """A sender for the socket at ``address`` (``@name`` is an abstract socket)."""
    target = "\0" + address[1:] if address.startswith("@") else address

    def send(state: str) -> bool:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            try:
                sock.sendto(state.encode("utf-8", "replace"), target)
            except OSError:
                return False
        return True

    return send


def _libsystemd_sender() -> Sender | None:
    """``systemd.daemon.notify`` from the ``reloadd[systemd]`` extra, if it is installed."""
    try:
        import systemd.daemon as sd_daemon
    except ImportError:
        return None

    def send(state: str) -> bool:
        return bool(sd_daemon.notify(state))

    return send


class Notifier:
    """The service manager's notify socket, or nothing when systemd did not start us.

    Only the main thread sends (``WATCHDOG=1`` must come from the loop that can hang).
    """

    def __init__(self, sender: Sender | None, *, implementation: str = "none") -> None:
        """``sender`` is None outside systemd: every :meth:`send` is then a no-op."""
        self._sender = sender
        self.implementation = implementation
        """``"libsystemd"``, ``"built-in"`` or ``"none"``: which code sends, for the log."""

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> Notifier:
        """The notifier for ``$NOTIFY_SOCKET``: libsystemd's when importable, else ours."""
        env = os.environ if environ is None else environ
        address = env.get("NOTIFY_SOCKET", "")
        if not address:
            return cls(None)
        # libsystemd reads $NOTIFY_SOCKET itself: use it only for the environment it sees.
        if environ is None:
            libsystemd = _libsystemd_sender()
            if libsystemd is not None:
                return cls(libsystemd, implementation="libsystemd")
        return cls(_builtin_sender(address), implementation="built-in")

    @property
    def active(self) -> bool:
        """Whether systemd listens (``$NOTIFY_SOCKET`` was set)."""
        return self._sender is not None

    def send(self, **fields: str) -> bool:
        """Send the assignments in one datagram (``send(READY="1", STATUS="...")``).

        True if it was sent; False outside systemd or when the socket refused it
        (logged at debug level: the daemon serves on either way).
        """
        if self._sender is None:
            return False
        state = "\n".join(f"{name}={_one_line(value)}" for name, value in fields.items())
        sent = self._sender(state)
        if not sent:
            log.debug("could not send %s to systemd's notify socket", ", ".join(fields))
        return sent


def _one_line(value: str) -> str:
    """A value as the protocol carries it: a newline would start a new assignment."""
    return value.replace("\n", " ")
