"""Declared constraints hold for every configuration field, at load and on direct construction.

The invalid values come from the declarations themselves (``Annotated[..., Interval(...)]``),
so a field that gains a constraint is tested without a new test, and a numeric field that
declares none fails ``test_every_numeric_field_declares_a_constraint``.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from collections.abc import Iterator
from typing import Any, Union, get_args, get_origin

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim.config import Constraint, Interval, build, constraints
from sim.distributions import Dist
from sim.errors import ConfigError
from sim.learning.config import ModelLimits
from sim.learning.paper import PaperSetup
from sim.scenario import ChainSection, Scenario, with_values
from sim.strategies import builtin_registry
from sim.sweep.spec import Values

BASE = Scenario(name="t")

# Numeric fields that take any value of their type, each with the reason.
EXEMPT_FIELDS = {
    # any EIP-155 chain id py-evm signs with; the scenario only has to be self-consistent
    (ChainSection, "chain_id"),
    # a sweep range may run over negative values or downwards; Values checks them together
    (Values, "start"),
    (Values, "stop"),
    (Values, "step"),
}
# Classes whose fields are checked by hand (none).
EXEMPT_CLASSES: set[type] = set()


@dataclasses.dataclass(frozen=True)
class Site:
    """One constrained field of one configuration object inside ``BASE``."""

    key: str
    owner: Any
    name: str
    constraint: Constraint

    def __str__(self) -> str:
        return self.key


def _dataclass_of(hint: Any) -> type | None:
    options = get_args(hint) if get_origin(hint) in (Union, types.UnionType) else (hint,)
    for option in options:
        if isinstance(option, type) and dataclasses.is_dataclass(option):
            return option
    if get_origin(hint) is tuple:
        return _dataclass_of(get_args(hint)[0])
    return None


def _sites(obj: Any, key: str) -> Iterator[Site]:
    cls: type = type(obj)
    declared = constraints(cls)
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(obj):
        path = f"{key}.{f.name}" if key else f.name
        for c in declared.get(f.name, ()):
            yield Site(path, obj, f.name, c)
        value = getattr(obj, f.name)
        if isinstance(value, tuple) and value and dataclasses.is_dataclass(value[0]):
            for i, item in enumerate(value):
                yield from _sites(item, f"{path}[{i}]")
        elif dataclasses.is_dataclass(value):
            yield from _sites(value, path)
        elif value is None and _dataclass_of(hints[f.name]) is Dist:
            yield from _sites(Dist.constant(1.0), path)  # an unset distribution, once set


def _distinct(sites: Iterator[Site]) -> list[Site]:
    """One site per field of each class, plus the first of an unset (then set) distribution."""
    seen: set[tuple[type, str, bool]] = set()
    out = []
    for site in sites:
        unset = site.key.rpartition(".")[0].endswith(("session_s", "offline_s"))
        mark = (type(site.owner), site.name, unset)
        if mark not in seen:
            seen.add(mark)
            out.append(site)
    return out


SITES = _distinct(_sites(BASE, ""))


def _reachable(cls: type) -> Iterator[type]:
    yield cls
    for hint in typing.get_type_hints(cls).values():
        sub = _dataclass_of(hint)
        if sub is not None and sub is not cls:
            yield from _reachable(sub)


# The configuration classes: the scenario's, the built-in strategies' [behaviours.<kind>]
# sections, and the few configured outside a scenario.
STRATEGY_PARAMS = {kind.params for kind in builtin_registry().kinds()}
CLASSES = sorted(
    {*_reachable(Scenario), *STRATEGY_PARAMS, ModelLimits, PaperSetup, Values},
    key=lambda c: c.__name__,
)


def invalid(c: Constraint) -> st.SearchStrategy[Any]:
    """Values that break ``c``: beyond an Interval's bounds, or its declared examples."""
    examples = st.sampled_from(c.invalid_examples())
    if not isinstance(c, Interval):
        return examples
    left, right = c.closed in ("left", "both"), c.closed in ("right", "both")
    parts = [examples]
    if c.integer:
        if c.low is not None:
            parts.append(st.integers(max_value=math.ceil(c.low) - 1 if left else int(c.low)))
        if c.high is not None:
            parts.append(st.integers(min_value=math.floor(c.high) + 1 if right else int(c.high)))
        return st.one_of(parts)
    if c.low is not None:
        parts.append(
            st.floats(max_value=c.low, exclude_max=left, allow_nan=False, allow_infinity=False)
        )
    if c.high is not None:
        parts.append(
            st.floats(min_value=c.high, exclude_min=right, allow_nan=False, allow_infinity=False)
        )
    return st.one_of(parts)


def test_every_field_of_the_base_scenario_is_valid() -> None:
    assert SITES, "no constrained fields found"
    for site in SITES:
        value = getattr(site.owner, site.name)
        assert site.constraint.violation(site.name, value) is None, site


@pytest.mark.parametrize("site", SITES, ids=str)
def test_declared_examples_are_rejected_naming_the_key(site: Site) -> None:
    examples = site.constraint.invalid_examples()
    assert examples, f"{site}: the constraint gives no invalid example"
    for bad in examples:
        _expect_rejected(site, bad)


@pytest.mark.parametrize("site", SITES, ids=str)
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_generated_invalid_values_are_rejected_naming_the_key(site: Site, data: Any) -> None:
    _expect_rejected(site, data.draw(invalid(site.constraint), label="bad"))


def _expect_rejected(site: Site, bad: Any) -> None:
    with pytest.raises(ConfigError) as info:
        with_values(BASE, {site.key: bad}, where="v.toml")
    message = str(info.value)
    assert message.startswith(f"v.toml: {site.key}"), (bad, message)
    assert "expected" in message, message
    # Direct construction and dataclasses.replace are checked the same way.
    with pytest.raises(ValueError, match=rf"^{site.name}\b.*expected"):
        dataclasses.replace(site.owner, **{site.name: bad})


def _numeric(hint: Any) -> bool:
    if get_origin(hint) in (Union, types.UnionType):
        return any(_numeric(a) for a in get_args(hint) if a is not type(None))
    if get_origin(hint) is tuple:
        return any(_numeric(a) for a in get_args(hint) if a is not Ellipsis)
    return hint in (int, float)


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_every_numeric_field_declares_a_constraint(cls: type) -> None:
    if cls in EXEMPT_CLASSES:
        return
    hints = typing.get_type_hints(cls)
    declared = constraints(cls)
    bare = [
        f.name
        for f in dataclasses.fields(cls)
        if _numeric(hints[f.name]) and f.name not in declared and (cls, f.name) not in EXEMPT_FIELDS
    ]
    assert not bare, f"{cls.__name__}: declare a constraint (sim.config.Interval) for {bare}"


def test_descriptions_read_as_expectations() -> None:
    assert Interval(0, 1, closed="right").describe() == "a fraction in (0, 1]"
    assert Interval(1, None).bind(int).describe() == "an integer >= 1"
    assert Interval(0, None, closed="neither").bind(int).describe() == "an integer >= 1"
    assert Interval(0, None, closed="neither").bind(float).describe() == "a positive number"
    assert Interval(1, 64, closed="both").bind(int).describe() == "an integer in 1..64"
    assert Interval(0, 0.5).describe() == "a fraction in [0, 0.5)"
    assert constraints(ChainSection)["block_gas_limit"][0].describe() == "an integer >= 5000000"


@pytest.mark.parametrize("cls", [ModelLimits, PaperSetup], ids=lambda c: c.__name__)
def test_classes_outside_the_scenario_enforce_their_constraints(cls: type) -> None:
    default = cls()
    for name, declared in constraints(cls).items():
        for bad in (x for c in declared for x in c.invalid_examples()):
            with pytest.raises(ValueError, match=rf"^{name}\b.*expected"):
                dataclasses.replace(default, **{name: bad})
            with pytest.raises(ConfigError, match=rf"^x.toml: t\.{name}\b.*expected"):
                build(cls, {name: bad}, where="x.toml", path="t")
