"""A client whose daemon runs on another machine (a container's host, a VM's), set by environment.

Three variables, so that Django, werkzeug and ``reloadd run`` need no change of code:

* ``RELOADD_ENDPOINT=tcp://HOST:PORT``: the daemon's network endpoint (``reloadd serve
  --listen``). Such a client never starts a daemon, and falls back to polling, loudly,
  while the daemon cannot be reached.
* ``RELOADD_SERVER_KEY``: the daemon's public key, as its ``server.key`` file or the
  40 Z85 characters ``reloadd keys server`` prints.
* ``RELOADD_CLIENT_KEY``: this client's ``NAME.key_secret`` file (``reloadd keys new NAME``).

and, when the two machines see the files under other paths, ``RELOADD_PATH_MAP``
(:mod:`reloadd.client.path_map`). Files under a mapping are registered with the daemon in
its paths, and its notifications come back in this client's; files outside every
mapping are never sent, and a :class:`LocalPoller` stats them every
:data:`LOCAL_POLL_INTERVAL` seconds instead.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import zmq

from reloadd.client.path_map import ENV_VAR as PATH_MAP_VAR
from reloadd.client.path_map import PathMap
from reloadd.client.polling import PollingWatcher
from reloadd.protocol import Crash, Event, GlobSpec, KeyFileError
from reloadd.protocol.defaults import NETWORK_HEARTBEAT, NETWORK_TIMEOUT
from reloadd.protocol.endpoint import RemoteEndpoint, parse_tcp_address
from reloadd.protocol.file_state import FileState, stat_state
from reloadd.protocol.record import fields

ENDPOINT_VAR = "RELOADD_ENDPOINT"
SERVER_KEY_VAR = "RELOADD_SERVER_KEY"
CLIENT_KEY_VAR = "RELOADD_CLIENT_KEY"

LOCAL_POLL_INTERVAL = 2.0
"""Seconds between two scans of the files no mapping holds (a container's own libraries,
which seldom change): cheap, as only registered files are stat'ed."""


SEEN_WINDOW = 10.0
"""Seconds after leaving the polling fallback during which a path the poller already saw in
its present state is not reported again (the daemon reports every change since it was last
heard, some of which the poller saw first)."""


class Remote:
    """What a remote client adds: its keys, its path map, and its own poller."""

    def __init__(
        self,
        endpoint: RemoteEndpoint,
        server_key: bytes,
        public_key: bytes,
        secret_key: bytes,
        path_map: PathMap | None,
    ) -> None:
        self.endpoint = endpoint
        self.server_key = server_key
        self.public_key = public_key
        self._secret_key = secret_key
        self.path_map = path_map
        self.local: PollingWatcher | None = None
        """The poller of the files and globs outside every mapping (none until there are some)."""
        self._next_poll = 0.0
        self._seen: dict[str, FileState] = {}
        self._seen_until = 0.0

    def __repr__(self) -> str:
        return f"Remote({self.endpoint.address!r}, client key {self.public_key.decode()!r})"

    def secure(self, socket: zmq.Socket[Any]) -> None:
        """Set CurveZMQ and ZMTP heartbeats on a socket before it connects."""
        socket.setsockopt(zmq.CURVE_SERVERKEY, self.server_key)
        socket.setsockopt(zmq.CURVE_PUBLICKEY, self.public_key)
        socket.setsockopt(zmq.CURVE_SECRETKEY, self._secret_key)
        socket.setsockopt(zmq.HEARTBEAT_IVL, int(NETWORK_HEARTBEAT * 1000))
        socket.setsockopt(zmq.HEARTBEAT_TIMEOUT, int(NETWORK_TIMEOUT * 1000))
        socket.setsockopt(zmq.HEARTBEAT_TTL, int(NETWORK_TIMEOUT * 1000))

    # -- paths ----------------------------------------------------------------------------------

    def outgoing(
        self, files: list[str], globs: list[GlobSpec], since: float
    ) -> tuple[list[str], list[GlobSpec]]:
        """The daemon's paths for these; those no mapping holds go to the local poller."""
        if self.path_map is None:
            return files, globs
        host_files, local_files = self._split(files)
        host_globs: list[GlobSpec] = []
        local_globs: list[GlobSpec] = []
        for glob in globs:
            directory = self.path_map.to_host(glob.directory)
            if directory is None:
                local_globs.append(glob)
            else:
                host_globs.append(GlobSpec(directory, glob.pattern))
        if local_files or local_globs:
            if self.local is None:
                self.local = PollingWatcher(local_files, local_globs, since)
                if not since:  # only changes from now on, as the daemon does: a first scan
                    self.local.poll()  # now, which later ones compare with (no clock involved)
            else:
                self.local.add(local_files, local_globs, since)
        return host_files, host_globs

    def removed(self, files: list[str], globs: list[GlobSpec]) -> tuple[list[str], list[GlobSpec]]:
        """The daemon's paths for files and globs given up; the local poller drops the others."""
        if self.path_map is None:
            return files, globs
        host_files, local_files = self._split(files)
        host_globs = [
            GlobSpec(directory, glob.pattern)
            for glob in globs
            if (directory := self.path_map.to_host(glob.directory)) is not None
        ]
        if self.local is not None:
            self.local.files.difference_update(local_files)
            self.local.globs.difference_update(globs)
        return host_files, host_globs

    def host_paths(self, files: list[str]) -> list[str]:
        """The daemon's paths for these files; those no mapping holds are left out."""
        return files if self.path_map is None else self._split(files)[0]

    def to_client(self, paths: Iterable[str]) -> list[str]:
        """Paths the daemon sent, in this client's spelling."""
        if self.path_map is None:
            return list(paths)
        return [self.path_map.to_client(path) for path in paths]

    def crash_to_host(self, crash: Crash) -> Crash:
        """A crash this client reports, its file as the daemon's machine sees it (if mapped)."""
        host = self.path_map.to_host(crash.file) if self.path_map and crash.file else None
        return crash if host is None else Crash(crash.type, crash.message, host, crash.line)

    def event_to_client(self, event: Event) -> Event:
        """An event the daemon sent, its paths (and a crash's file) in this client's spelling."""
        if self.path_map is None:
            return event
        error = event.error
        if error is not None and error.file:
            error = Crash(
                error.type, error.message, self.path_map.to_client(error.file), error.line
            )
        values = {field.name: getattr(event, field.name) for field in fields(event)}
        values.update(paths=tuple(self.to_client(event.paths)), error=error)
        return Event(**values)

    def to_local(self, path: str) -> str:
        """One of the daemon's paths as this machine sees it (for polling while it is away)."""
        return path if self.path_map is None else self.path_map.to_client(path)

    def _split(self, files: list[str]) -> tuple[list[str], list[str]]:
        assert self.path_map is not None
        host_files: list[str] = []
        local_files: list[str] = []
        for name in files:
            host = self.path_map.to_host(name)
            if host is None:
                local_files.append(name)
            else:
                host_files.append(host)
        return host_files, local_files

    def seen_while_polling(self, states: dict[str, FileState]) -> None:
        """Back from polling: the states the poller last saw, not to be reported again."""
        self._seen = {path: state for path, state in states.items() if state is not None}
        self._seen_until = time.monotonic() + SEEN_WINDOW

    def unseen(self, paths: list[str]) -> list[str]:
        """Leave out paths whose state the fallback poller saw and reported already."""
        if not self._seen:
            return paths
        if time.monotonic() > self._seen_until:
            self._seen = {}
            return paths
        seen = self._seen
        return [path for path in paths if path not in seen or stat_state(path) != seen[path]]

    # -- the local poller -----------------------------------------------------------------------

    def poll_local(self) -> list[str]:
        """Scan the unmapped files if a scan is due; the changed ones."""
        if self.local is None or time.monotonic() < self._next_poll:
            return []
        self._next_poll = time.monotonic() + LOCAL_POLL_INTERVAL
        return self.local.poll()

    def until_next_poll(self, remaining: float | None) -> float | None:
        """``remaining`` cut to the time left before the next local scan."""
        if self.local is None:
            return remaining
        left = max(0.0, self._next_poll - time.monotonic())
        return left if remaining is None else min(left, remaining)


def remote_from_environment(root: Path, env: Mapping[str, str] | None = None) -> Remote | None:
    """The remote settings in the environment, or None without ``RELOADD_ENDPOINT``.

    Raises :class:`~reloadd.protocol.EndpointError` (or its ``KeyFileError``) naming the
    variable to fix.
    """
    env = os.environ if env is None else env
    address = env.get(ENDPOINT_VAR, "")
    if not address:
        return None
    endpoint = RemoteEndpoint(root=root, address=parse_tcp_address(address))
    server = env.get(SERVER_KEY_VAR, "")
    client = env.get(CLIENT_KEY_VAR, "")
    if not server or not client:
        raise KeyFileError(
            f"{ENDPOINT_VAR} is set, so set {SERVER_KEY_VAR} (the daemon's server.key, or the "
            f"key 'reloadd keys server' prints) and {CLIENT_KEY_VAR} (this client's "
            "NAME.key_secret, from 'reloadd keys new NAME') too"
        )
    public, secret = _load_certificate(Path(client), CLIENT_KEY_VAR)
    if secret is None:
        raise KeyFileError(f"{CLIENT_KEY_VAR}={client} holds no secret key: give NAME.key_secret")
    maps = env.get(PATH_MAP_VAR, "")
    return Remote(
        endpoint, _server_key(server), public, secret, PathMap.parse(maps) if maps else None
    )


def _server_key(value: str) -> bytes:
    from zmq.utils import z85  # only remote clients decode keys

    if len(value) == 40 and not os.path.exists(value):
        try:
            if len(z85.decode(value)) == 32:
                return value.encode()
        except (ValueError, KeyError, UnicodeEncodeError):
            pass
        raise KeyFileError(f"{SERVER_KEY_VAR} is no Z85 key (40 characters) nor a file")
    public, _ = _load_certificate(Path(value), SERVER_KEY_VAR)
    return public


def _load_certificate(path: Path, variable: str) -> tuple[bytes, bytes | None]:
    import zmq.auth  # only remote clients read certificates

    try:
        public, secret = zmq.auth.load_certificate(path)
    except (OSError, ValueError) as exc:
        raise KeyFileError(f"{variable}={path}: cannot read this key file ({exc})") from exc
    if len(public) != 40:
        raise KeyFileError(f"{variable}={path} holds no 40-character Z85 public key")
    return public, secret
