"""The one encode/decode pair of the wire protocol: messages ⇄ msgpack bytes.

Decoding is strict: anything that is not a msgpack map with a known ``type``
and correctly typed fields raises :class:`ProtocolError` with the
:class:`ErrorCode` the ``error`` reply should carry. Unknown fields are
ignored (the tolerant-reader rule), so newer peers may add optional fields.
"""

from __future__ import annotations

import types
import typing
from enum import Enum
from typing import Any, TypeVar, Union

import msgpack

from reloadd.protocol.errors import ErrorCode, MessageTooLarge, ProtocolError
from reloadd.protocol.limits import MAX_MESSAGE_BYTES, MAX_PATH_LENGTH, MAX_PATHS_PER_MESSAGE
from reloadd.protocol.messages import MESSAGE_TYPES, ClientInfo, GlobSpec, Message
from reloadd.protocol.record import MISSING, fields

M = TypeVar("M", bound=Message)

_BY_TYPE: dict[str, type[Message]] = {cls.TYPE: cls for cls in MESSAGE_TYPES}


_HINTS: dict[type[Any], dict[str, Any]] = {}


def _hints(cls: type[Any]) -> dict[str, Any]:
    # Computed on first use, not at import: a client imports this module at every restart.
    hints = _HINTS.get(cls)
    if hints is None:
        hints = _HINTS[cls] = typing.get_type_hints(cls)
    return hints


def encode(message: Message) -> bytes:
    """Encode one message as msgpack bytes."""
    values = {field.name: getattr(message, field.name) for field in fields(message)}
    data: bytes = msgpack.packb({"type": message.TYPE, **values}, default=_to_plain)
    if len(data) > MAX_MESSAGE_BYTES:
        raise MessageTooLarge(
            f"a {message.TYPE} message of {len(data)} bytes is over the limit of "
            f"{MAX_MESSAGE_BYTES} bytes; send fewer paths per message"
        )
    return data


def _to_plain(value: object) -> object:
    if isinstance(value, GlobSpec):
        return [value.directory, value.pattern]
    if isinstance(value, ClientInfo):
        return {field.name: getattr(value, field.name) for field in fields(value)}
    if isinstance(value, Enum):
        return value.value
    raise TypeError(f"cannot encode {type(value).__name__}")


def decode(data: bytes) -> Message:
    """Decode and validate one message; raise :class:`ProtocolError` when it is not valid."""
    if len(data) > MAX_MESSAGE_BYTES:
        raise MessageTooLarge(
            f"message of {len(data)} bytes is over the limit of {MAX_MESSAGE_BYTES} bytes"
        )
    try:
        raw = msgpack.unpackb(
            data, raw=False, strict_map_key=True, use_list=True, ext_hook=_refuse_ext
        )
    except ProtocolError:
        raise
    except (ValueError, TypeError, msgpack.UnpackException) as exc:
        raise ProtocolError(f"not a msgpack message: {exc}") from exc
    if not isinstance(raw, dict):
        raise ProtocolError(f"a message must be a msgpack map, got {type(raw).__name__}")
    kind = raw.get("type")
    if not isinstance(kind, str):
        raise ProtocolError("a message must have a string field 'type'")
    cls = _BY_TYPE.get(kind)
    if cls is None:
        raise ProtocolError(f"unknown message type {kind[:40]!r}", code=ErrorCode.UNKNOWN_TYPE)
    message: Message = _build(cls, raw, kind)
    message.check()
    return message


def decode_as(data: bytes, expected: type[M]) -> M:
    """Decode a message that must be of type ``expected`` (or raise :class:`ProtocolError`)."""
    message = decode(data)
    if not isinstance(message, expected):
        raise ProtocolError(
            f"expected a {expected.TYPE} message, got {message.TYPE}", code=ErrorCode.UNEXPECTED
        )
    return message


def request_id(data: bytes) -> int | None:
    """Best-effort ``id`` of a message that failed to decode, so the error reply can name it."""
    try:
        raw = msgpack.unpackb(data, raw=False, strict_map_key=False, ext_hook=_refuse_ext)
    except (ValueError, TypeError, ProtocolError, msgpack.UnpackException):
        return None
    if isinstance(raw, dict):
        value = raw.get("id")
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    return None


def _refuse_ext(code: int, data: bytes) -> object:
    raise ProtocolError(f"msgpack extension types are not allowed (got type {code})")


def _build(cls: type[Any], raw: dict[str, Any], where: str) -> Any:
    values: dict[str, Any] = {}
    for field in fields(cls):
        if field.name not in raw:
            if field.default is MISSING:
                raise ProtocolError(
                    f"{where}: missing field {field.name!r}", code=ErrorCode.BAD_FIELD
                )
            continue
        values[field.name] = _convert(
            _hints(cls)[field.name], raw[field.name], f"{where}.{field.name}"
        )
    return cls(**values)


def _convert(hint: Any, value: Any, where: str) -> Any:
    origin = typing.get_origin(hint)
    if origin in (Union, types.UnionType):
        if value is None and type(None) in typing.get_args(hint):
            return None
        (inner,) = [arg for arg in typing.get_args(hint) if arg is not type(None)]
        return _convert(inner, value, where)
    if origin is tuple:
        item_hint = typing.get_args(hint)[0]
        if not isinstance(value, list):
            raise _bad(where, "a list", value)
        if len(value) > MAX_PATHS_PER_MESSAGE:
            raise ProtocolError(
                f"{where}: {len(value)} items is over the limit of {MAX_PATHS_PER_MESSAGE}",
                code=ErrorCode.LIMIT_EXCEEDED,
            )
        if item_hint is str and all(
            type(item) is str and len(item) <= MAX_PATH_LENGTH for item in value
        ):
            return tuple(value)  # the common case (a list of paths), checked in one pass
        return tuple(_convert(item_hint, item, f"{where}[{i}]") for i, item in enumerate(value))
    if hint is GlobSpec:
        if not (isinstance(value, list) and len(value) == 2):
            raise _bad(where, "a [directory, pattern] pair", value)
        return GlobSpec(_convert(str, value[0], where), _convert(str, value[1], where))
    if hint is ClientInfo:
        if not isinstance(value, dict):
            raise _bad(where, "a map", value)
        return _build(ClientInfo, value, where)
    if isinstance(hint, type) and issubclass(hint, Enum):
        try:
            return hint(value)
        except ValueError:
            allowed = ", ".join(repr(member.value) for member in hint)
            raise ProtocolError(
                f"{where}: {str(value)[:40]!r} is not one of {allowed}", code=ErrorCode.BAD_FIELD
            ) from None
    if hint is str:
        if not isinstance(value, str):
            raise _bad(where, "a string", value)
        if len(value) > MAX_PATH_LENGTH:
            raise ProtocolError(
                f"{where}: string of {len(value)} characters is over {MAX_PATH_LENGTH}",
                code=ErrorCode.BAD_FIELD,
            )
        return value
    if hint is bool:
        if not isinstance(value, bool):
            raise _bad(where, "true or false", value)
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise _bad(where, "an integer", value)
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise _bad(where, "a number", value)
        return float(value)
    raise TypeError(f"no decoder for {hint!r}")  # a bug in messages.py, not bad input


def _bad(where: str, expected: str, value: object) -> ProtocolError:
    return ProtocolError(
        f"{where} must be {expected}, got {type(value).__name__}", code=ErrorCode.BAD_FIELD
    )
