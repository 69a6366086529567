"""Who may connect to a network endpoint: CurveZMQ keys checked by a ZAP handler.

A ``tcp://`` endpoint is bound with ``CURVE_SERVER`` (see :mod:`reloadd.daemon.listen`),
so libzmq itself refuses a client that does not speak CurveZMQ (a plaintext one) during
the ZMTP handshake. A client that does is checked here, through ZeroMQ's authentication
protocol (ZAP, RFC 27): its public key must be one of the certificates in the
allow-list folder (:func:`~reloadd.daemon.keys.clients_dir`). Anything else is refused,
and the refusal is logged once per address (the first :data:`MAX_LOGGED_REFUSALS`
addresses; a client retrying every second does not flood the log).

The allow-list is read again whenever its folder changes (``reloadd keys allow`` /
``revoke`` while the daemon runs), at the next handshake; a revoked key keeps the
connection it already has until that connection ends (restart the daemon to cut it).

Thread: pyzmq's :class:`~zmq.auth.thread.ThreadAuthenticator` runs the handler on its
own thread, renamed ``reloadd-auth``. It owns the ZAP socket (``inproc://zeromq.zap.01``
on the daemon's context) and the :class:`AllowList`, and touches no daemon state: the
key's name goes back to the main thread as the ZAP user id, which ZeroMQ attaches to
every message of that connection (the ``User-Id`` property).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import zmq
from zmq.auth.thread import ThreadAuthenticator
from zmq.utils import z85

from reloadd.daemon.keys import allowed_keys
from reloadd.protocol.limits import MAX_LOGGED_REFUSALS

log = logging.getLogger("reloadd.daemon")

AUTH_THREAD = "reloadd-auth"
"""The name of the ZAP handler's thread."""

ZAP_DOMAIN = "reloadd"
"""The ZAP domain of the network endpoints, the one the handler checks keys for."""


class AllowList:
    """The public keys allowed in, by name, read again when their folder changes."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._stamp: tuple[int, int] | None = None
        self._keys: dict[bytes, str] = {}

    def name_of(self, public_z85: bytes) -> str | None:
        """The allowed client's name for this Z85 public key, or None if it is not allowed."""
        self._refresh()
        return self._keys.get(public_z85)

    def __len__(self) -> int:
        self._refresh()
        return len(self._keys)

    def _refresh(self) -> None:
        try:
            info = os.stat(self.folder)
        except OSError as exc:
            if self._stamp is not None or self._keys:
                log.warning("cannot read the allowed client keys in %s (%s)", self.folder, exc)
            self._stamp, self._keys = None, {}
            return
        stamp = (info.st_mtime_ns, info.st_ino)
        if stamp == self._stamp:
            return
        self._stamp = stamp
        self._keys, problems = allowed_keys(self.folder)
        for problem in problems:
            log.warning("ignored an allowed key: %s", problem)


class Authenticator(ThreadAuthenticator):
    """pyzmq's ZAP thread with CURVE checked against an :class:`AllowList`.

    Start it (:meth:`start`) before binding a CURVE endpoint: without a ZAP handler
    libzmq would let any key in.
    """

    def __init__(self, context: zmq.Context[Any], allow_list: AllowList) -> None:
        super().__init__(context, log=logging.getLogger("reloadd.daemon.zap"))
        self.allow_list = allow_list
        self._address = ""
        self._refused: set[str] = set()

    def start(self) -> None:
        """Start the handler thread and check every CURVE key against the allow-list."""
        super().start()
        self.thread.name = AUTH_THREAD
        self.configure_curve_callback(domain=ZAP_DOMAIN, credentials_provider=self)

    async def handle_zap_message(self, msg: list[bytes]) -> None:
        """Note the peer's address for the log, then let pyzmq answer the request."""
        self._address = msg[3].decode("utf-8", "replace") if len(msg) > 3 else "?"
        await super().handle_zap_message(msg)

    def callback(self, domain: str, key: bytes) -> bool:
        """pyzmq's credentials-provider hook: whether this Z85 public key may connect."""
        if self.allow_list.name_of(key) is not None:
            return True
        address = self._address
        if address not in self._refused and len(self._refused) < MAX_LOGGED_REFUSALS:
            self._refused.add(address)
            log.warning(
                "refused a client at %s: its key %s is not in %s; if it is yours, allow it "
                "with 'reloadd keys allow FILE' (its .key file) on this machine",
                address,
                key.decode("ascii", "replace"),
                self.allow_list.folder,
            )
        return False

    def curve_user_id(self, client_public_key: bytes) -> str:
        """The ZAP user id of an allowed client: its key's name in the allow-list."""
        return self.allow_list.name_of(z85.encode(client_public_key)) or "unknown"
