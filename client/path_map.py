"""``RELOADD_PATH_MAP``: a remote client's paths as the daemon's machine sees them, and back.

``RELOADD_PATH_MAP=/app=/home/me/proj,/lib=/home/me/lib`` says that this process's
``/app`` is the daemon's ``/home/me/proj`` (a bind mount, a shared folder). A path maps
through the longest client prefix it lies in, whole components only (``/app`` maps
``/app/x.py``, never ``/application``); a path in no mapping is not the daemon's to
watch (the container's own site-packages, say) and :meth:`PathMap.to_host` says None.
Notifications come back through the longest host prefix, so the dev server sees its
own paths.
"""

from __future__ import annotations

import posixpath

from reloadd.protocol import EndpointError
from reloadd.protocol.limits import MAX_PATH_MAPS

ENV_VAR = "RELOADD_PATH_MAP"


def _inside(path: str, prefix: str) -> str | None:
    """The rest of ``path`` below ``prefix`` ('' for the prefix itself), or None outside it."""
    if prefix == "/":
        return path[1:]
    if path == prefix:
        return ""
    if path.startswith(prefix) and path[len(prefix)] == "/":
        return path[len(prefix) + 1 :]
    return None


def _join(prefix: str, rest: str) -> str:
    return prefix if not rest else posixpath.join(prefix, rest)


class PathMap:
    """Pairs of (client folder, host folder), tried longest first."""

    def __init__(self, pairs: list[tuple[str, str]]) -> None:
        self.pairs = pairs
        self._out = sorted(pairs, key=lambda pair: len(pair[0]), reverse=True)
        self._back = sorted(pairs, key=lambda pair: len(pair[1]), reverse=True)

    @classmethod
    def parse(cls, text: str) -> PathMap:
        """Read ``client=host[,client=host…]``; raise :class:`EndpointError` naming the fix."""
        pairs: list[tuple[str, str]] = []
        for item in text.split(","):
            client, sep, host = item.strip().partition("=")
            if not sep or not client.startswith("/") or not host.startswith("/"):
                raise EndpointError(
                    f"{ENV_VAR} holds {item.strip()!r}: write CLIENT=HOST pairs of absolute "
                    "folders, comma-separated, e.g. /app=/home/me/proj"
                )
            pairs.append((posixpath.normpath(client), posixpath.normpath(host)))
        if len(pairs) > MAX_PATH_MAPS:
            raise EndpointError(f"{ENV_VAR} holds {len(pairs)} pairs; at most {MAX_PATH_MAPS}")
        return cls(pairs)

    def to_host(self, path: str) -> str | None:
        """The daemon's spelling of this client path, or None if no mapping holds it."""
        for client, host in self._out:
            rest = _inside(path, client)
            if rest is not None:
                return _join(host, rest)
        return None

    def to_client(self, path: str) -> str:
        """This client's spelling of a path the daemon sent (itself if no mapping holds it)."""
        for client, host in self._back:
            rest = _inside(path, host)
            if rest is not None:
                return _join(client, rest)
        return path
