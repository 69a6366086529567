"""The limits every value of a message obeys, known field or not, checked in one pass.

The typed fields of a message are checked by the codec against their message class;
this module checks the whole decoded map first, the unknown fields a tolerant reader
ignores included: no string over ``MAX_PATH_LENGTH`` characters, no array over
``MAX_PATHS_PER_MESSAGE`` items, no map over ``MAX_MAP_ITEMS`` entries, nothing nested
deeper than ``MAX_NESTING_DEPTH``, and no value msgpack's extension types produced.
The walk uses an explicit stack (no recursion) and does constant work per value, most
of it in C: a list of 50,000 paths costs two passes of ``map``.
"""

from __future__ import annotations

from typing import Any

from reloadd.protocol.errors import ErrorCode, ProtocolError, quote
from reloadd.protocol.limits import (
    MAX_MAP_ITEMS,
    MAX_NESTING_DEPTH,
    MAX_PATH_LENGTH,
    MAX_PATHS_PER_MESSAGE,
)

_SCALARS = frozenset({int, float, bool, type(None)})
_STRINGS = frozenset({str})


def check_tree(message: dict[Any, Any]) -> None:
    """Raise :class:`ProtocolError` unless every value in a message map is within the limits."""
    # Each entry: a list or dict, its depth (the message map is 1), and the field it is in.
    stack: list[tuple[list[Any] | dict[Any, Any], int, str]] = [(message, 1, "the message")]
    while stack:
        container, depth, where = stack.pop()
        if depth > MAX_NESTING_DEPTH:
            raise ProtocolError(
                f"{where}: arrays and maps nested more than {MAX_NESTING_DEPTH} deep "
                "(MAX_NESTING_DEPTH)",
                code=ErrorCode.LIMIT_EXCEEDED,
            )
        if isinstance(container, dict):
            if len(container) > MAX_MAP_ITEMS:
                raise ProtocolError(
                    f"{where}: a map of {len(container)} entries is over the limit of "
                    f"{MAX_MAP_ITEMS} (MAX_MAP_ITEMS)",
                    code=ErrorCode.LIMIT_EXCEEDED,
                )
            if depth == 1:  # name the field each value is in
                _check_items(list(container), depth, where, stack)
                for key, value in container.items():
                    if type(value) is list or type(value) is dict:
                        stack.append((value, depth + 1, _field(key)))
                    else:
                        _check_items([value], depth, _field(key), stack)
                continue
            items: list[Any] = [*container, *container.values()]
        else:
            if len(container) > MAX_PATHS_PER_MESSAGE:
                raise ProtocolError(
                    f"{where}: {len(container)} items is over the limit of "
                    f"{MAX_PATHS_PER_MESSAGE} (MAX_PATHS_PER_MESSAGE)",
                    code=ErrorCode.LIMIT_EXCEEDED,
                )
            items = container
        _check_items(items, depth, where, stack)


def _check_items(
    items: list[Any], depth: int, where: str, stack: list[tuple[Any, int, str]]
) -> None:
    """Check the scalars among ``items`` and push the containers onto ``stack``."""
    kinds = set(map(type, items))
    if kinds <= _STRINGS:  # the common case, a list of paths: two C loops
        if items and max(map(len, items)) > MAX_PATH_LENGTH:
            _too_long(next(item for item in items if len(item) > MAX_PATH_LENGTH), where)
        return
    for item in items:
        kind = type(item)
        if kind is str or kind is bytes:
            if len(item) > MAX_PATH_LENGTH:
                _too_long(item, where)
        elif kind is list or kind is dict:
            stack.append((item, depth + 1, where))
        elif kind not in _SCALARS:
            # msgpack decodes its timestamp extension (-1) itself, past the ext hook.
            raise ProtocolError(
                f"{where}: a {kind.__name__} is not a plain msgpack value (nil, boolean, number, "
                "string, bin, array or map); msgpack extension types are not allowed"
            )


def _too_long(value: str | bytes, where: str) -> None:
    unit = "characters" if isinstance(value, str) else "bytes"
    raise ProtocolError(
        f"{where}: a string of {len(value)} {unit} is over the limit of {MAX_PATH_LENGTH} "
        "(MAX_PATH_LENGTH)",
        code=ErrorCode.BAD_FIELD,
    )


def _field(key: object) -> str:
    return f"field {quote(key, 40)}" if isinstance(key, str) else "a field"
