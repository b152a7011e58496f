"""The generic table -> frozen dataclass loader names the file, the key and the expectation."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Literal

import pytest

from sim.config import build, to_table
from sim.errors import ConfigError


class Colour(StrEnum):
    RED = "red"
    BLUE = "blue"


@dataclass(frozen=True)
class Inner:
    count: int = 1
    rate: float = 0.5
    kind: Literal["a", "b"] = "a"

    def __post_init__(self) -> None:
        if self.count < 0:
            raise ValueError(f"count: expected >= 0, got {self.count}")


@dataclass(frozen=True)
class Outer:
    name: str
    inner: Inner = Inner()
    sizes: tuple[int, ...] = ()
    colour: Colour = Colour.RED
    limit: float | None = None
    flag: bool = False


def message(table: dict) -> str:
    with pytest.raises(ConfigError) as info:
        build(Outer, table, where="x.toml")
    return str(info.value)


def test_builds_nested_frozen_objects_with_conversions() -> None:
    got = build(
        Outer,
        {"name": "n", "inner": {"count": 3, "rate": 1}, "sizes": [1, 2], "colour": "blue"},
        where="x.toml",
    )
    assert got == Outer("n", Inner(3, 1.0), (1, 2), Colour.BLUE)
    assert isinstance(got.inner.rate, float)


@pytest.mark.parametrize(
    ("table", "expected"),
    [
        ({"name": "n", "bogus": 1}, "x.toml: unknown key 'bogus'; expected one of: colour, flag"),
        ({"name": "n", "inner": {"bogus": 1}}, "x.toml: unknown key 'inner.bogus'"),
        ({"name": 3}, "x.toml: name: expected a string, got 3 (int)"),
        ({"name": "n", "inner": {"count": "3"}}, "x.toml: inner.count: expected an integer"),
        ({"name": "n", "inner": {"count": True}}, "x.toml: inner.count: expected an integer"),
        ({"name": "n", "inner": {"count": -2}}, "x.toml: inner.count: expected >= 0, got -2"),
        ({"name": "n", "inner": {"kind": "c"}}, "x.toml: inner.kind: expected one of 'a', 'b'"),
        ({"name": "n", "sizes": [1, "2"]}, "x.toml: sizes[1]: expected an integer"),
        ({"name": "n", "colour": "green"}, "x.toml: colour: expected one of 'red', 'blue'"),
        ({"name": "n", "flag": 1}, "x.toml: flag: expected true or false"),
        ({"name": "n", "limit": "x"}, "x.toml: limit: expected a number"),
        ({"name": "n", "inner": 5}, "x.toml: inner: expected a table"),
        ({}, "x.toml: missing key 'name'"),
    ],
)
def test_bad_tables_give_one_message_naming_file_and_key(table: dict, expected: str) -> None:
    assert message(table).startswith(expected)


def test_replace_revalidates() -> None:
    inner = Inner()
    with pytest.raises(ValueError, match="count: expected >= 0"):
        dataclasses.replace(inner, count=-1)


def test_to_table_round_trips() -> None:
    obj = Outer("n", Inner(2, 0.25, "b"), (3,), Colour.BLUE, 1.5, True)
    assert build(Outer, to_table(obj)) == obj


@dataclass(frozen=True)
class Loose:
    items: tuple[Any, ...] = ()
    table: dict[str, Any] = dataclasses.field(default_factory=dict)


def test_any_accepts_every_value_as_it_is() -> None:
    got = build(Loose, {"items": [1, "II", [4, 8], {"kind": "x"}], "table": {"a": True}})
    assert got == Loose((1, "II", [4, 8], {"kind": "x"}), {"a": True})
