"""Network endpoints (``reloadd serve --listen tcp://ADDR:PORT``): CurveZMQ on the daemon's one ROUTER.

libzmq copies a socket's security options into each endpoint when it is bound, so
the ROUTER binds its local ``ipc://`` endpoint first, with no security (its folder's
permissions guard it), then turns ``CURVE_SERVER`` on and binds each ``tcp://``
endpoint: those accept CurveZMQ only. A plaintext client fails the ZMTP handshake; a
CurveZMQ client is checked by the ZAP handler (:mod:`reloadd.daemon.auth`), which is
started before the first ``tcp://`` bind, because libzmq lets every key in while no
handler answers. ZMTP heartbeats (:data:`~reloadd.protocol.defaults.NETWORK_HEARTBEAT`)
drop a link that went silent, as a pulled cable never says so.

Every message from a ``tcp://`` connection carries the name of the key it
authenticated with (ZeroMQ's ``User-Id`` property): :func:`receive` returns it, and the
daemon keeps it with the client (its pid means nothing on this machine).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import zmq

from reloadd.daemon.auth import ZAP_DOMAIN, AllowList, Authenticator
from reloadd.daemon.keys import clients_dir, curve_available, server_keys
from reloadd.protocol import EndpointError
from reloadd.protocol.defaults import NETWORK_HEARTBEAT, NETWORK_TIMEOUT
from reloadd.protocol.endpoint import parse_tcp_address

log = logging.getLogger("reloadd.daemon")


class NetworkEndpoints:
    """The ``tcp://`` endpoints of one ROUTER socket and the ZAP handler that guards them."""

    def __init__(self, addresses: Sequence[str]) -> None:
        self.addresses = [parse_tcp_address(address) for address in addresses]
        self._auth: Authenticator | None = None

    def __bool__(self) -> bool:
        return bool(self.addresses)

    def bind(self, context: zmq.Context[Any], router: zmq.Socket[Any]) -> None:
        """Start the ZAP handler and bind every address with CurveZMQ; raise ``EndpointError``.

        Call after the ``ipc://`` endpoint is bound, on the thread that owns ``router``.
        """
        if not self.addresses:
            return
        curve_available()
        keys = server_keys()
        allow_list = AllowList(clients_dir())
        if not len(allow_list):
            log.warning(
                "no client key is allowed in %s yet: every network client is refused; "
                "run 'reloadd keys new NAME' to make one",
                allow_list.folder,
            )
        self._auth = Authenticator(context, allow_list)
        self._auth.start()
        router.setsockopt(zmq.CURVE_SERVER, 1)
        router.setsockopt(zmq.CURVE_SECRETKEY, keys.secret)
        router.setsockopt(zmq.CURVE_PUBLICKEY, keys.public)
        router.setsockopt_string(zmq.ZAP_DOMAIN, ZAP_DOMAIN)
        router.setsockopt(zmq.ZAP_ENFORCE_DOMAIN, 1)
        router.setsockopt(zmq.HEARTBEAT_IVL, int(NETWORK_HEARTBEAT * 1000))
        router.setsockopt(zmq.HEARTBEAT_TIMEOUT, int(NETWORK_TIMEOUT * 1000))
        router.setsockopt(zmq.HEARTBEAT_TTL, int(NETWORK_TIMEOUT * 1000))
        for address in self.addresses:
            try:
                router.bind(address)
            except zmq.ZMQError as exc:
                raise EndpointError(
                    f"cannot listen on {address} ({exc}); choose another address or port"
                ) from exc
            log.info(
                "listening on %s (CurveZMQ; server key %s; allowed keys in %s)",
                address,
                keys.public.decode(),
                allow_list.folder,
            )

    def close(self) -> None:
        """Stop the ZAP handler (before the context is terminated)."""
        if self._auth is not None:
            self._auth.stop()
            self._auth = None


def receive(router: zmq.Socket[Any]) -> tuple[list[bytes], str]:
    """One message's frames, and the key name its ``tcp://`` connection authenticated with
    ('' for the local endpoint); raises ``zmq.Again`` when none is waiting."""
    frames = router.recv_multipart(zmq.NOBLOCK, copy=False)
    try:
        peer = frames[-1].get("User-Id")
    except zmq.ZMQError:  # no such property: the local endpoint, which has no ZAP
        peer = ""
    return [frame.bytes for frame in frames], str(peer)
