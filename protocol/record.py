"""Frozen record classes: what ``@dataclass(frozen=True)`` gives, without its import cost.

Every dev server imports the protocol at each restart, and ``dataclasses`` (which
imports ``inspect``) plus generating the protocol's frozen dataclasses, one ``exec``
per method, cost about 25 ms of the client's 60 ms import budget. A class that
derives from :class:`Record` is declared exactly like a frozen dataclass (annotated
fields, defaults, ``ClassVar`` for class constants) and behaves like one: keyword or
positional construction, immutable fields, equality, hashing, ``repr`` and
``match`` on positional fields. Type checkers see a frozen dataclass
(``dataclass_transform``). Only immutable defaults are supported, which is all a
wire message needs.
"""

from __future__ import annotations

import typing
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from typing_extensions import dataclass_transform
else:

    def dataclass_transform(**kwargs: object) -> Any:
        """A no-op at run time (``typing.dataclass_transform`` is new in Python 3.11)."""
        return lambda cls: cls


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()
"""The default of a field that has none."""


class Field:
    """One field of a record class: its name and its default (or :data:`MISSING`)."""

    __slots__ = ("default", "name")

    def __init__(self, name: str, default: object) -> None:
        self.name = name
        self.default = default

    def __repr__(self) -> str:
        return f"Field({self.name!r}, default={self.default!r})"


class FrozenRecordError(AttributeError):
    """Raised on an attempt to set or delete a field of a record."""


def fields(record: Record | type[Record]) -> tuple[Field, ...]:
    """The fields of a record class or instance, base classes' first, in declaration order."""
    return record.__record_fields__


def as_dict(record: Record) -> dict[str, Any]:
    """The fields of ``record`` as a dict, nested records (also inside tuples) included."""
    return {field.name: _plain(getattr(record, field.name)) for field in record.__record_fields__}


def _plain(value: object) -> object:
    if isinstance(value, Record):
        return as_dict(value)
    if isinstance(value, tuple):
        return [_plain(item) for item in value]
    return value


def _is_class_var(annotation: object) -> bool:
    if isinstance(annotation, str):  # modules with ``from __future__ import annotations``
        return annotation.startswith(("ClassVar", "typing.ClassVar"))
    return annotation is ClassVar or typing.get_origin(annotation) is ClassVar


@dataclass_transform(frozen_default=True)
class Record:
    """Base of the protocol's frozen record classes; subclasses declare annotated fields."""

    __record_fields__: ClassVar[tuple[Field, ...]] = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        by_name = {field.name: field for field in cls.__record_fields__}
        # On Python 3.10 and later a class's __annotations__ holds its own fields only.
        for name, annotation in cls.__annotations__.items():
            if not _is_class_var(annotation):
                by_name[name] = Field(name, cls.__dict__.get(name, MISSING))
        found = tuple(by_name.values())
        defaults = [field.default is not MISSING for field in found]
        if True in defaults and False in defaults[defaults.index(True) :]:
            late = found[defaults.index(False, defaults.index(True))].name
            raise TypeError(f"{cls.__name__}: field {late!r} without a default follows one with")
        cls.__record_fields__ = found
        setattr(cls, "__match_args__", tuple(field.name for field in found))  # noqa: B010

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        found = self.__record_fields__
        if len(args) > len(found):
            raise TypeError(
                f"{type(self).__name__}() takes {len(found)} positional arguments "
                f"but {len(args)} were given"
            )
        store = object.__setattr__
        for field, value in zip(found, args, strict=False):
            if field.name in kwargs:
                raise TypeError(f"{type(self).__name__}() got multiple values for {field.name!r}")
            store(self, field.name, value)
        for field in found[len(args) :]:
            value = kwargs.pop(field.name, field.default)
            if value is MISSING:
                raise TypeError(f"{type(self).__name__}() missing argument {field.name!r}")
            store(self, field.name, value)
        if kwargs:
            raise TypeError(
                f"{type(self).__name__}() got an unexpected argument {next(iter(kwargs))!r}"
            )

    def _values(self) -> tuple[Any, ...]:
        return tuple(getattr(self, field.name) for field in self.__record_fields__)

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return self._values() == other._values()

    def __hash__(self) -> int:
        return hash(self._values())

    def __repr__(self) -> str:
        shown = ", ".join(
            f"{field.name}={getattr(self, field.name)!r}" for field in self.__record_fields__
        )
        return f"{type(self).__name__}({shown})"

    def __setattr__(self, name: str, value: object) -> None:
        raise FrozenRecordError(f"cannot assign to field {name!r}: {type(self).__name__} is frozen")

    def __delattr__(self, name: str) -> None:
        raise FrozenRecordError(f"cannot delete field {name!r}: {type(self).__name__} is frozen")
