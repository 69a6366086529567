"""The record base behaves like a frozen dataclass where the protocol relies on it."""

from __future__ import annotations

from typing import ClassVar

import pytest

from reloadd.protocol.record import MISSING, FrozenRecordError, Record, as_dict, fields


class Point(Record):
    KIND: ClassVar[str] = "point"
    x: int
    y: int = 0


class Labelled(Point):
    label: str = ""
    points: tuple[Point, ...] = ()


def test_fields_in_declaration_order_base_first_without_class_vars() -> None:
    assert [(f.name, f.default) for f in fields(Labelled)] == [
        ("x", MISSING),
        ("y", 0),
        ("label", ""),
        ("points", ()),
    ]
    assert fields(Labelled(1)) == fields(Labelled)


def test_positional_keyword_and_default_construction() -> None:
    assert Point(1, 2) == Point(x=1, y=2) == Point(1, y=2)
    assert Point(1).y == 0
    assert Labelled(1, 2, "a").label == "a"


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        ((), {}, "missing argument 'x'"),
        ((1, 2, 3), {}, "takes 2 positional arguments but 3 were given"),
        ((1,), {"x": 2}, "multiple values for 'x'"),
        ((1,), {"z": 2}, "unexpected argument 'z'"),
    ],
)
def test_wrong_arguments_raise_type_error(
    args: tuple[int, ...], kwargs: dict[str, int], message: str
) -> None:
    with pytest.raises(TypeError, match=message):
        Point(*args, **kwargs)


def test_frozen() -> None:
    point = Point(1)
    with pytest.raises(FrozenRecordError, match="frozen"):
        point.x = 2  # type: ignore[misc]
    with pytest.raises(AttributeError):
        del point.y
    assert point.x == 1


def test_equality_and_hash_by_type_and_values() -> None:
    assert Point(1, 2) != Point(1, 3)
    assert Point(1) != Labelled(1)  # same values, another type
    assert Point(1) != (1, 0)
    assert len({Point(1, 2), Point(1, 2), Point(2, 1)}) == 2


def test_repr_and_match() -> None:
    assert repr(Labelled(1, label="a")) == "Labelled(x=1, y=0, label='a', points=())"
    match Point(3, 4):
        case Point(x, y):
            assert (x, y) == (3, 4)
        case _:
            pytest.fail("a record matches its positional fields")


def test_as_dict_nests_records_in_tuples() -> None:
    record = Labelled(1, points=(Point(2, 3),))
    assert as_dict(record) == {"x": 1, "y": 0, "label": "", "points": [{"x": 2, "y": 3}]}


def test_a_field_without_default_after_one_with_is_refused() -> None:
    with pytest.raises(TypeError, match="'z' without a default"):

        class Bad(Point):  # y has a default
            z: int  # type: ignore[misc]
