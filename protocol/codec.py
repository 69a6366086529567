"""The one encode/decode pair of the wire protocol: messages ⇄ msgpack bytes.

Decoding is strict: anything that is not a msgpack map with a known ``type``,
values within the limits (:mod:`reloadd.protocol.tree`) and correctly typed
fields within their bounds (:mod:`reloadd.protocol.fields`) raises
:class:`ProtocolError` with the :class:`ErrorCode` the ``error`` reply should
carry, and nothing else escapes :func:`decode`, whatever the bytes. Unknown
fields are ignored (the tolerant-reader rule), so newer peers may add optional
fields. :func:`encode` checks a message exactly as :func:`decode` will, so it
never produces bytes the other side refuses.
"""

from __future__ import annotations

import types
import typing
from enum import Enum
from typing import Annotated, Any, TypeVar, Union

import msgpack

from reloadd.protocol.errors import ErrorCode, MessageTooLarge, ProtocolError, quote
from reloadd.protocol.fields import Bounds, Truncate
from reloadd.protocol.limits import (
    MAX_MAP_ITEMS,
    MAX_MESSAGE_BYTES,
    MAX_PATH_LENGTH,
    MAX_PATHS_PER_MESSAGE,
    MAX_REQUEST_ID,
)
from reloadd.protocol.messages import MESSAGE_TYPES, GlobSpec, Message, Side
from reloadd.protocol.record import MISSING, Record, fields
from reloadd.protocol.tree import check_tree

M = TypeVar("M", bound=Message)

_BY_TYPE: dict[str, type[Message]] = {cls.TYPE: cls for cls in MESSAGE_TYPES}

_UNPACK_LIMITS: dict[str, int] = {
    # Coarse limits msgpack applies before it builds a value; the exact ones are check_tree's.
    "max_str_len": 4 * MAX_PATH_LENGTH,  # bytes: UTF-8 takes at most 4 per character
    "max_bin_len": MAX_PATH_LENGTH,
    "max_array_len": MAX_PATHS_PER_MESSAGE,
    "max_map_len": MAX_MAP_ITEMS,
}
_LIMIT_NAMES = {
    "max_str_len": ("a string is over MAX_PATH_LENGTH", ErrorCode.BAD_FIELD),
    "max_bin_len": ("a binary string is over MAX_PATH_LENGTH", ErrorCode.BAD_FIELD),
    "max_array_len": ("an array is over MAX_PATHS_PER_MESSAGE", ErrorCode.LIMIT_EXCEEDED),
    "max_map_len": ("a map is over MAX_MAP_ITEMS", ErrorCode.LIMIT_EXCEEDED),
}

_HINTS: dict[type[Any], dict[str, Any]] = {}
_STRINGS = frozenset({str})


def _hints(cls: type[Any]) -> dict[str, Any]:
    # Computed on first use, not at import: a client imports this module at every restart.
    hints = _HINTS.get(cls)
    if hints is None:
        hints = _HINTS[cls] = typing.get_type_hints(cls, include_extras=True)
    return hints


# -- encode -----------------------------------------------------------------------------------


def encode(message: Message) -> bytes:
    """Encode one message as msgpack bytes.

    Raise :class:`ProtocolError` for a message the other side's :func:`decode` would
    refuse (a field out of bounds, a relative path, …), and :class:`MessageTooLarge` for
    one over ``MAX_MESSAGE_BYTES``; an ``error``'s message is shortened to fit instead.
    """
    cls = type(message)
    plain: dict[str, Any] = {"type": message.TYPE}
    plain.update(_record_plain(message))
    try:
        _from_plain(cls, plain)
    except ProtocolError as exc:
        raise ProtocolError(f"cannot send this {message.TYPE}: {exc}", code=exc.code) from exc
    try:
        data: bytes = msgpack.packb(plain)
    except (ValueError, TypeError, OverflowError) as exc:  # e.g. a str with lone surrogates
        raise ProtocolError(
            f"cannot send this {message.TYPE}: {exc}", code=ErrorCode.BAD_FIELD
        ) from exc
    if len(data) > MAX_MESSAGE_BYTES:
        raise MessageTooLarge(
            f"a {message.TYPE} message of {len(data)} bytes is over the limit of "
            f"{MAX_MESSAGE_BYTES} bytes; send fewer paths per message"
        )
    return data


def _plain(value: object) -> object:
    """A field's value as msgpack sees it: lists, maps, strings and numbers."""
    kind = type(value)
    if kind is tuple or kind is list:
        items: Any = value
        if set(map(type, items)) <= _STRINGS:
            return list(items)  # the common case, a list of paths, copied in C
        return [_plain(item) for item in items]
    if isinstance(value, GlobSpec):
        return [value.directory, value.pattern]
    if isinstance(value, Record):
        return _record_plain(value)
    if isinstance(value, Enum):
        return value.value
    return value


def _record_plain(record: Record) -> dict[str, Any]:
    """A record's fields as a plain map, human texts over ``MAX_PATH_LENGTH`` shortened."""
    plain: dict[str, Any] = {}
    hints = _hints(type(record))
    for field in fields(record):
        value = _plain(getattr(record, field.name))
        if type(value) is str and len(value) > MAX_PATH_LENGTH and _truncated(hints[field.name]):
            value = value[: MAX_PATH_LENGTH - 1] + "…"
        plain[field.name] = value
    return plain


def _truncated(hint: Any) -> bool:
    return typing.get_origin(hint) is Annotated and any(
        isinstance(meta, Truncate) for meta in hint.__metadata__
    )


# -- decode -----------------------------------------------------------------------------------


def decode(data: bytes) -> Message:
    """Decode and validate one message of either direction; raise :class:`ProtocolError` if not valid."""
    return _decode(data, None)


def decode_request(data: bytes) -> Message:
    """Decode a message sent to the daemon: one that only the daemon sends is ``unexpected``.

    The direction is checked before the fields, so a ``welcome`` sent to the daemon is
    refused as ``unexpected`` whatever its fields hold.
    """
    return _decode(data, Side.CLIENT)


def decode_reply(data: bytes) -> Message:
    """Decode a message sent to a client: one that only clients send is ``unexpected``."""
    return _decode(data, Side.DAEMON)


def decode_as(data: bytes, expected: type[M]) -> M:
    """Decode a message that must be of type ``expected`` (or raise :class:`ProtocolError`)."""
    message = decode(data)
    if not isinstance(message, expected):
        raise ProtocolError(
            f"expected a {expected.TYPE} message, got {message.TYPE}", code=ErrorCode.UNEXPECTED
        )
    return message


def _decode(data: bytes, sender: Side | None) -> Message:
    if len(data) > MAX_MESSAGE_BYTES:
        raise MessageTooLarge(
            f"message of {len(data)} bytes is over the limit of {MAX_MESSAGE_BYTES} bytes"
        )
    raw = _unpack(data)
    if not isinstance(raw, dict):
        raise ProtocolError(f"a message must be a msgpack map, got {quote(raw)}")
    kind = raw.get("type")
    if not isinstance(kind, str):
        raise ProtocolError("a message must have a string field 'type'")
    cls = _BY_TYPE.get(kind)
    if cls is None:
        raise ProtocolError(f"unknown message type {quote(kind, 40)}", code=ErrorCode.UNKNOWN_TYPE)
    if sender is not None and cls.SENT_BY is not sender:
        raise ProtocolError(
            f"{kind} is a message only the {cls.SENT_BY.value} sends; "
            f"the {cls.SENT_BY.value} does not accept it",
            code=ErrorCode.UNEXPECTED,
        )
    return _from_plain(cls, raw)


def _unpack(data: bytes) -> object:
    try:
        return msgpack.unpackb(
            data,
            raw=False,
            strict_map_key=True,
            use_list=True,
            ext_hook=_refuse_ext,
            **_UNPACK_LIMITS,
        )
    except ProtocolError:
        raise
    except msgpack.StackError as exc:
        raise ProtocolError(
            "arrays and maps nested too deep (MAX_NESTING_DEPTH)", code=ErrorCode.LIMIT_EXCEEDED
        ) from exc
    except (ValueError, TypeError, msgpack.UnpackException) as exc:
        for name, (what, code) in _LIMIT_NAMES.items():
            if f"exceeds {name}(" in str(exc):
                raise ProtocolError(f"{what} ({exc})", code=code) from exc
        raise ProtocolError(f"not a msgpack message: {exc}") from exc


def _refuse_ext(code: int, data: bytes) -> object:
    raise ProtocolError(f"msgpack extension types are not allowed (got type {code})")


def _from_plain(cls: type[M], raw: dict[Any, Any]) -> M:
    """The message of type ``cls`` a plain map stands for, checked; :class:`ProtocolError` if none."""
    check_tree(raw)
    message: M = _build(cls, raw, cls.TYPE)
    message.check()
    return message


def _build(cls: type[Any], raw: dict[Any, Any], where: str) -> Any:
    values: dict[str, Any] = {}
    hints = _hints(cls)
    for field in fields(cls):
        if field.name not in raw:
            if field.default is MISSING:
                raise ProtocolError(
                    f"{where}: missing field {field.name!r}", code=ErrorCode.BAD_FIELD
                )
            continue
        values[field.name] = _convert(hints[field.name], raw[field.name], f"{where}.{field.name}")
    return cls(**values)


def _convert(hint: Any, value: Any, where: str) -> Any:
    """``value`` as the type ``hint`` says; ``check_tree`` has already bounded its size."""
    origin = typing.get_origin(hint)
    if origin is Annotated:
        converted = _convert(hint.__origin__, value, where)
        for meta in hint.__metadata__:
            if isinstance(meta, Bounds) and converted not in meta:
                spelled = meta.spelled.replace("`", "")
                raise ProtocolError(
                    f"{where} must be {spelled} ({meta.low} to {meta.high}), got {converted!r}",
                    code=ErrorCode.BAD_FIELD,
                )
        return converted
    if origin in (Union, types.UnionType):
        if value is None and type(None) in typing.get_args(hint):
            return None
        (inner,) = [arg for arg in typing.get_args(hint) if arg is not type(None)]
        return _convert(inner, value, where)
    if origin is tuple:
        item_hint = typing.get_args(hint)[0]
        if type(value) is not list:
            raise _bad(where, "a list", value)
        if item_hint is str and set(map(type, value)) <= _STRINGS:
            return tuple(value)  # the common case, a list of paths, checked in C
        return tuple(_convert(item_hint, item, f"{where}[{i}]") for i, item in enumerate(value))
    if hint is GlobSpec:
        if not (type(value) is list and len(value) == 2):
            raise _bad(where, "a [directory, pattern] pair", value)
        return GlobSpec(_convert(str, value[0], where), _convert(str, value[1], where))
    if isinstance(hint, type) and issubclass(hint, Record):  # a nested record: ClientInfo, Crash
        if type(value) is not dict:
            raise _bad(where, "a map", value)
        return _build(hint, value, where)
    if isinstance(hint, type) and issubclass(hint, Enum):
        try:
            return hint(value)
        except (ValueError, TypeError):  # TypeError: an unhashable value (a list, a map)
            allowed = ", ".join(repr(member.value) for member in hint)
            raise ProtocolError(
                f"{where}: {quote(value, 40)} is not one of {allowed}", code=ErrorCode.BAD_FIELD
            ) from None
    if hint is str:
        if type(value) is not str:
            raise _bad(where, "a string", value)
        return value
    if hint is bool:
        if type(value) is not bool:
            raise _bad(where, "true or false", value)
        return value
    if hint is int:
        if type(value) is not int:
            raise _bad(where, "an integer", value)
        return value
    if hint is float:
        if type(value) is not float and type(value) is not int:
            raise _bad(where, "a number", value)
        return float(value)
    raise TypeError(f"no decoder for {hint!r}")  # a bug in messages.py, not bad input


def _bad(where: str, expected: str, value: object) -> ProtocolError:
    return ProtocolError(
        f"{where} must be {expected}, got {type(value).__name__}", code=ErrorCode.BAD_FIELD
    )


# -- request_id -------------------------------------------------------------------------------


def request_id(data: bytes) -> int | None:
    """Best-effort ``id`` of a message that failed to decode, so the error reply can name it.

    The map is read one entry at a time and only the ``id`` value is built: whatever the
    other fields hold (an extension type, a value nested too deep, bytes cut short after
    the ``id``) the ``id`` is found if it was read. None unless it is a valid request id.
    """
    unpacker = msgpack.Unpacker(
        raw=True, strict_map_key=False, ext_hook=_placeholder, max_buffer_size=len(data) + 1
    )
    found: int | None = None
    try:
        unpacker.feed(data)
        for _ in range(unpacker.read_map_header()):
            if unpacker.unpack() == b"id":
                value = unpacker.unpack()
                valid = type(value) is int and 0 <= value <= MAX_REQUEST_ID
                found = value if valid else None  # the last "id" is the one decode reads
            else:
                unpacker.skip()
    except (ValueError, TypeError, msgpack.UnpackException, msgpack.OutOfData):
        pass
    return found


def _placeholder(code: int, data: bytes) -> object:
    return msgpack.ExtType(code, b"")
