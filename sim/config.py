"""Turning parsed TOML tables into frozen, validated configuration dataclasses.

Every configuration class in baasim is a frozen dataclass whose fields carry type hints and
defaults. A field's allowed range is declared next to it, as data, in the spirit of
scikit-learn's ``_param_validation``::

    mafr: Annotated[float, Interval(0, 1, closed="right")] = 0.8
    seeds: Annotated[tuple[int, ...], Items(NON_NEGATIVE, min_len=1)] = (0,)

Each constraint describes itself ("a fraction in (0, 1]") and can produce invalid example
values for tests. ``Checked``, the base of the configuration classes, enforces the declared
constraints in ``__post_init__``; a class's rules across fields follow in its own
``__post_init__``. Both raise ``ValueError("field: expected …, got …")``, naming the field
relative to that class. ``build`` maps a table onto a class: unknown keys, wrong types, declared
constraints and rule violations all become one ``ConfigError`` naming the file, the full key
path and what was expected; ``nan`` is never a value, and ``inf`` only where it is the field's
default (an unbounded maximum). ``dataclasses.replace`` re-runs ``__post_init__``, so derived
variants (sweeps, ``--set`` overrides) are validated the same way.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import math
import re
import types
import typing
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Literal, TypeVar, Union, get_args, get_origin

from sim.errors import ConfigError

T = TypeVar("T")


class Constraint(ABC):
    """What a field's value must satisfy, beyond its type; declared with ``Annotated``.

    A constraint applies to values that are set: ``None`` (an unset optional field) passes.
    """

    @abstractmethod
    def allows(self, value: Any) -> bool:
        """Whether ``value`` satisfies the constraint."""

    @abstractmethod
    def describe(self) -> str:
        """The expectation in words, as messages and the schema show it: "an integer >= 1"."""

    @abstractmethod
    def invalid_examples(self) -> tuple[Any, ...]:
        """Values of the field's type that violate the constraint (for tests)."""

    def bind(self, hint: Any) -> Constraint:
        """This constraint for a field of type ``hint`` (an Interval learns it counts integers)."""
        return self

    def violation(self, name: str, value: Any) -> str | None:
        """``"name: expected …, got …"`` when ``value`` violates the constraint, else None."""
        if value is None or self.allows(value):
            return None
        return f"{name}: expected {self.describe()}, got {value!r}"


Closed = Literal["left", "right", "both", "neither"]


@dataclass(frozen=True)
class Interval(Constraint):
    """A number between ``low`` and ``high`` (None: unbounded on that side).

    ``closed`` says which bounds belong to the interval. ``nan`` never does, nor ``±inf``
    unless ``finite`` is False. On an ``int`` field the interval counts integers.
    """

    low: float | None
    high: float | None
    closed: Closed = "left"
    finite: bool = True
    why: str = ""
    """A reason shown after the range: "an integer >= 2 (train and validation)"."""
    integer: bool = False

    def allows(self, value: Any) -> bool:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return False
        if math.isnan(value) or (self.finite and math.isinf(value)):
            return False
        left = self.closed in ("left", "both")
        right = self.closed in ("right", "both")
        if self.low is not None and not (value >= self.low if left else value > self.low):
            return False
        return self.high is None or (value <= self.high if right else value < self.high)

    def bind(self, hint: Any) -> Constraint:
        return dataclasses.replace(self, integer=_counts_integers(hint))

    def describe(self) -> str:
        text = self._describe()
        if not self.finite and self.high is None:
            text += ", or inf"
        return f"{text} ({self.why})" if self.why else text

    def _describe(self) -> str:
        left = self.closed in ("left", "both")
        right = self.closed in ("right", "both")
        low, high = _num(self.low), _num(self.high)
        if self.integer:
            return self._describe_integer(left, right)
        if self.low is not None and self.high is not None:
            what = "a fraction" if self.low >= 0 and self.high <= 1 else "a number"
            return f"{what} in {'[' if left else '('}{low}, {high}{']' if right else ')'}"
        if self.low == 0:
            return "a non-negative number" if left else "a positive number"
        if self.low is not None:
            return f"a number {'>=' if left else '>'} {low}"
        if self.high is not None:
            return f"a number {'<=' if right else '<'} {high}"
        return "a finite number" if self.finite else "a number"

    def _describe_integer(self, left: bool, right: bool) -> str:
        # Integers make every bound closed: > 0 is >= 1.
        low = high = None
        if self.low is not None:
            low = math.ceil(self.low) if left else math.floor(self.low) + 1
        if self.high is not None:
            high = math.floor(self.high) if right else math.ceil(self.high) - 1
        if low is not None and high is not None:
            return f"an integer in {low}..{high}"
        if low is not None:
            return f"an integer >= {low}"
        if high is not None:
            return f"an integer <= {high}"
        return "an integer"

    def invalid_examples(self) -> tuple[Any, ...]:
        left = self.closed in ("left", "both")
        right = self.closed in ("right", "both")
        out: list[Any] = []
        if self.low is not None:
            out += [self.low - 1, self.low - 1000] if left else [self.low, self.low - 1]
            if not self.integer and left:
                out.append(math.nextafter(self.low, -math.inf))  # just below a closed bound
        if self.high is not None:
            out += [self.high + 1, self.high + 1000] if right else [self.high, self.high + 1]
            if not self.integer and right:
                out.append(math.nextafter(self.high, math.inf))
        if self.integer:
            return tuple(int(v) for v in out)
        out = [float(v) for v in out]
        return (*out, math.nan, *((math.inf, -math.inf) if self.finite else ()))


POSITIVE = Interval(0, None, closed="neither")
"""A number > 0 (on an ``int`` field: an integer >= 1)."""
NON_NEGATIVE = Interval(0, None)
"""A number >= 0."""
FRACTION = Interval(0, 1, closed="both")
"""A fraction in [0, 1]."""


@dataclass(frozen=True)
class Items(Constraint):
    """A list of ``min_len`` to ``max_len`` items, each satisfying ``each``.

    On a field that takes one value or a list (``int | tuple[int, ...]``), a single value
    must satisfy ``each``.
    """

    each: Constraint | None = None
    min_len: int = 0
    max_len: int | None = None
    what: str = "item"
    """What one item is, for messages: "at least one seed"."""

    def allows(self, value: Any) -> bool:
        return self.violation("value", value) is None

    def bind(self, hint: Any) -> Constraint:
        if self.each is None:
            return self
        return dataclasses.replace(self, each=self.each.bind(_item_hint(hint)))

    def violation(self, name: str, value: Any) -> str | None:
        if value is None:
            return None
        if not isinstance(value, (tuple, list)):
            return None if self.each is None else self.each.violation(name, value)
        n = len(value)
        if n < self.min_len or (self.max_len is not None and n > self.max_len):
            return f"{name}: expected {self.describe()}, got {_brief(value)}"
        for i, item in enumerate(value):
            if self.each is not None and (bad := self.each.violation(f"{name}[{i}]", item)):
                return bad
        return None

    def describe(self) -> str:
        low, high, what = self.min_len, self.max_len, self.what
        if high == low:
            count = f"exactly {_count(low, what)}"
        elif high is None:
            count = f"at least {_count(low, what)}" if low else f"a list of {what}s"
        else:
            count = f"{low} to {high} {what}s"
        each = f", each {self.each.describe()}" if self.each is not None else ""
        return count + each

    def invalid_examples(self) -> tuple[Any, ...]:
        out: list[Any] = []
        if self.min_len > 0:
            out.append(())
        if self.max_len is not None:
            out.append((_example(self.each),) * (self.max_len + 1))
        if self.each is not None:
            fill = (_example(self.each),) * max(self.min_len - 1, 0)
            out += [(*fill, bad) for bad in self.each.invalid_examples()]
        return tuple(out)


@dataclass(frozen=True)
class Pattern(Constraint):
    """A string matching ``regex`` in full; ``description`` says what that is in words."""

    regex: str
    description: str
    counterexamples: tuple[str, ...] = ("",)

    def allows(self, value: Any) -> bool:
        return isinstance(value, str) and re.fullmatch(self.regex, value) is not None

    def describe(self) -> str:
        return self.description

    def invalid_examples(self) -> tuple[Any, ...]:
        return self.counterexamples


def _num(value: float | None) -> str:
    """A bound as a person writes it: 1 rather than 1.0."""
    if value is None:
        return ""
    return str(int(value)) if float(value).is_integer() else str(value)


def _count(n: int, what: str) -> str:
    return f"one {what}" if n == 1 else f"{n} {what}s"


def _brief(value: Any) -> str:
    text = repr(list(value) if isinstance(value, tuple) else value)
    return text if len(text) <= 60 else text[:57] + "..."


def _example(c: Constraint | None) -> Any:
    """A value that an Interval allows (to pad lists in invalid examples)."""
    if isinstance(c, Interval):
        if c.low is None:
            return 0 if c.high is None else int(c.high) - 1
        return int(c.low) + 1
    return 1


def _options(hint: Any) -> tuple[Any, ...]:
    """The non-None options of a union, or the hint itself."""
    if get_origin(hint) in (Union, types.UnionType):
        return tuple(a for a in get_args(hint) if a is not type(None))
    return (hint,)


def _item_hint(hint: Any) -> Any:
    """The item type of the sequence option of ``hint`` (``int`` for ``int | tuple[int, ...]``)."""
    for option in _options(hint):
        if get_origin(option) in (tuple, list) and get_args(option):
            return get_args(option)[0]
    return hint


def _counts_integers(hint: Any) -> bool:
    return all(o is int for o in _options(hint))


@functools.cache
def constraints(cls: type) -> dict[str, tuple[Constraint, ...]]:
    """Field name -> the constraints its ``Annotated`` type declares (bound to the field type)."""
    hints = typing.get_type_hints(cls, include_extras=True)
    out: dict[str, tuple[Constraint, ...]] = {}
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        hint = hints[f.name]
        if get_origin(hint) is not Annotated:
            continue
        base, *meta = get_args(hint)
        declared = tuple(m.bind(base) for m in meta if isinstance(m, Constraint))
        if declared:
            out[f.name] = declared
    return out


def first_violation(cls: type, values: Mapping[str, Any]) -> str | None:
    """The first ``"field: expected …, got …"`` among ``values`` (field -> value) of ``cls``."""
    for name, declared in constraints(cls).items():
        if name not in values:
            continue
        for c in declared:
            if (bad := c.violation(name, values[name])) is not None:
                return bad
    return None


class Checked:
    """Base of configuration dataclasses: ``__post_init__`` enforces the declared constraints.

    The constructor and ``dataclasses.replace`` run it, so every instance satisfies its
    fields' ``Annotated`` constraints. A class with rules across fields overrides
    ``__post_init__``, calls ``super().__post_init__()`` first and raises
    ``ValueError("field: expected …")`` itself.
    """

    def __post_init__(self) -> None:
        fields = dataclasses.fields(self)  # type: ignore[arg-type]
        values = {f.name: getattr(self, f.name) for f in fields}
        if (bad := first_violation(type(self), values)) is not None:
            raise ValueError(bad)


def build(cls: type[T], table: Mapping[str, Any], *, where: str = "<config>", path: str = "") -> T:
    """An instance of dataclass ``cls`` from ``table``; ConfigError names ``where`` and the key."""
    if not isinstance(table, Mapping):
        what = _key(path) or "top level"
        raise ConfigError(f"{where}: {what}: expected a table, got {_show(table)}")
    hints = typing.get_type_hints(cls)
    known = {f.name: f for f in dataclasses.fields(cls) if f.init}  # type: ignore[arg-type]
    for key in table:
        if key not in known:
            listed = ", ".join(sorted(known))
            raise ConfigError(
                f"{where}: unknown key {_key(path, key)!r}; expected one of: {listed}"
            )
    kwargs = {
        name: coerce(hints[name], table[name], where=where, path=_key(path, name))
        for name in known
        if name in table
    }
    missing = [
        name
        for name, f in known.items()
        if name not in table
        and f.default is dataclasses.MISSING
        and f.default_factory is dataclasses.MISSING
    ]
    if missing:
        raise ConfigError(f"{where}: missing key {_key(path, missing[0])!r}")
    for name, value in kwargs.items():
        if _infinite(value) and value != known[name].default:  # nan never equals anything
            raise ConfigError(
                f"{where}: {_key(path, name)}: expected a finite number, got {_show(value)}"
            )
    if (bad := first_violation(cls, kwargs)) is not None:  # also for classes that are not Checked
        raise ConfigError(f"{where}: {_prefixed(path, bad)}")
    try:
        return cls(**kwargs)
    except ValueError as err:  # __post_init__ rules: "field: expected …"
        raise ConfigError(f"{where}: {_prefixed(path, str(err))}") from err


def coerce(hint: Any, value: Any, *, where: str, path: str) -> Any:
    """``value`` checked against (and converted to) the type ``hint``."""
    origin = get_origin(hint)
    if origin is Literal:
        return _coerce_literal(hint, value, where=where, path=path)
    if origin in (Union, types.UnionType):
        return _coerce_union(hint, value, where=where, path=path)
    if origin in (tuple, list):
        return _coerce_sequence(hint, value, where=where, path=path)
    if origin in (dict, Mapping) or hint in (dict, Mapping):
        return _coerce_mapping(hint, value, where=where, path=path)
    if isinstance(hint, type) and hint is not Any:  # Any is a class on Python 3.11+
        return _coerce_plain(hint, value, where=where, path=path)
    return value


def _coerce_literal(hint: Any, value: Any, *, where: str, path: str) -> Any:
    choices = get_args(hint)
    if value not in choices or isinstance(value, bool) != isinstance(choices[0], bool):
        listed = ", ".join(map(repr, choices))
        raise ConfigError(f"{where}: {path}: expected one of {listed}, got {_show(value)}")
    return value


def _coerce_union(hint: Any, value: Any, *, where: str, path: str) -> Any:
    options = [o for o in get_args(hint) if o is not type(None)]
    if value is None and len(options) < len(get_args(hint)):
        return None
    errors = []
    for option in options:
        try:
            return coerce(option, value, where=where, path=path)
        except ConfigError as err:
            errors.append(str(err))
    if len(errors) == 1:
        raise ConfigError(errors[0])
    raise ConfigError(f"{where}: {path}: {_show(value)} fits none of {hint}")


def _coerce_sequence(hint: Any, value: Any, *, where: str, path: str) -> tuple[Any, ...]:
    if not isinstance(value, (list, tuple)):
        raise ConfigError(f"{where}: {path}: expected a list, got {_show(value)}")
    args = get_args(hint)
    if len(args) == 2 and args[1] is Ellipsis:
        return tuple(
            coerce(args[0], v, where=where, path=f"{path}[{i}]") for i, v in enumerate(value)
        )
    if args and get_origin(hint) is tuple:
        if len(args) != len(value):
            raise ConfigError(f"{where}: {path}: expected {len(args)} items, got {len(value)}")
        return tuple(
            coerce(a, v, where=where, path=f"{path}[{i}]")
            for i, (a, v) in enumerate(zip(args, value, strict=True))
        )
    elem = args[0] if args else Any
    return tuple(coerce(elem, v, where=where, path=f"{path}[{i}]") for i, v in enumerate(value))


def _coerce_mapping(hint: Any, value: Any, *, where: str, path: str) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise ConfigError(f"{where}: {path}: expected a table, got {_show(value)}")
    args = get_args(hint)
    elem = args[1] if len(args) == 2 else Any
    out = {}
    for k, v in value.items():
        if not isinstance(k, str):
            raise ConfigError(f"{where}: {path}: keys must be strings, got {_show(k)}")
        out[k] = coerce(elem, v, where=where, path=_key(path, k))
    return out


def _coerce_plain(hint: type, value: Any, *, where: str, path: str) -> Any:
    if hint is float and isinstance(value, float) and math.isnan(value):
        raise ConfigError(f"{where}: {path}: expected a number, got {_show(value)}")
    if isinstance(value, hint) and not (hint in (int, float) and isinstance(value, bool)):
        return value
    if dataclasses.is_dataclass(hint):
        return build(hint, value, where=where, path=path)
    if issubclass(hint, enum.Enum):
        try:
            return hint(value)
        except ValueError:
            choices = ", ".join(repr(m.value) for m in hint)
            raise ConfigError(
                f"{where}: {path}: expected one of {choices}, got {_show(value)}"
            ) from None
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    expected = _EXPECTED.get(hint, hint.__name__)
    raise ConfigError(f"{where}: {path}: expected {expected}, got {_show(value)}")


_EXPECTED = {bool: "true or false", int: "an integer", float: "a number", str: "a string"}


def _infinite(value: Any) -> bool:
    """A float that is nan or ±inf (TOML writes them ``nan``, ``inf``, ``-inf``)."""
    return isinstance(value, float) and not math.isfinite(value)


def _key(path: str, name: str | None = None) -> str:
    if name is None:
        return path
    return f"{path}.{name}" if path else name


def _prefixed(path: str, message: str) -> str:
    """Prefix a class-relative ``field: …`` message with the class's key path."""
    return f"{path}.{message}" if path else message


def _show(value: Any) -> str:
    text = repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{text} ({type(value).__name__})"


def to_table(obj: Any) -> Any:
    """The TOML-like table of a configuration object (enums as values, tuples as lists)."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_table(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, enum.Enum):
        return obj.value
    if isinstance(obj, (tuple, list)):
        return [to_table(v) for v in obj]
    if isinstance(obj, Mapping):
        return {k: to_table(v) for k, v in obj.items()}
    return obj
