"""Splitting one ``changed`` notification into parts that each fit in a message.

A burst of changes is one notification; when its paths would not fit in
``MAX_MESSAGE_BYTES`` (thousands of very long paths), it is sent as several
``changed`` messages, every one but the last with ``more`` set. A client treats
the parts as one burst.
"""

from __future__ import annotations

from collections.abc import Iterable

from reloadd.protocol.limits import MAX_MESSAGE_BYTES
from reloadd.protocol.messages import Changed

ENVELOPE_BYTES = 128
"""Bytes kept for everything in a ``changed`` message but its paths: the map, the field
names, ``truncated``, ``at`` and ``more`` take under 60."""


def packed_str_bytes(text: str) -> int:
    """Bytes msgpack takes for ``text``: its UTF-8 bytes plus a header of 1 to 5 bytes."""
    size = len(text.encode("utf-8", "surrogatepass"))
    if size < 32:
        return size + 1
    if size < 256:
        return size + 2
    if size < 65536:
        return size + 3
    return size + 5


def split_changed(
    paths: Iterable[str],
    *,
    at: float,
    truncated: bool = False,
    max_bytes: int = MAX_MESSAGE_BYTES,
) -> list[Changed]:
    """The ``changed`` messages that together carry ``paths`` in order, each within ``max_bytes``.

    Every part carries the same ``at`` and ``truncated``; all but the last have
    ``more`` set. No paths give one empty message. Each path must fit in a message
    on its own (``MAX_PATH_LENGTH`` guarantees it for the real limit).
    """
    budget = max_bytes - ENVELOPE_BYTES - 5  # 5: the array header at its largest
    parts: list[list[str]] = [[]]
    used = 0
    for path in paths:
        size = packed_str_bytes(path)
        if size > budget:
            raise ValueError(f"a path of {size} bytes cannot fit in a {max_bytes}-byte message")
        if used + size > budget and parts[-1]:
            parts.append([])
            used = 0
        parts[-1].append(path)
        used += size
    last = len(parts) - 1
    return [
        Changed(paths=tuple(part), truncated=truncated, at=at, more=index < last)
        for index, part in enumerate(parts)
    ]
