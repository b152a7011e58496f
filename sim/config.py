"""Turning parsed TOML tables into frozen, validated configuration dataclasses.

Every configuration class in baasim is a frozen dataclass whose fields carry type hints and
defaults; range rules live in ``__post_init__`` and raise ``ValueError("field: expected …,
got …")``, naming the field relative to that class. ``build`` maps a table onto a class:
unknown keys, wrong types and rule violations all become one ``ConfigError`` naming the file,
the full key path and what was expected; ``nan`` is never a value, and ``inf`` only where it is
the field's default (an unbounded maximum). ``dataclasses.replace`` re-runs ``__post_init__``,
so derived variants (sweeps, ``--set`` overrides) are validated the same way.
"""

from __future__ import annotations

import dataclasses
import enum
import math
import types
import typing
from collections.abc import Mapping
from typing import Any, Literal, TypeVar, Union, get_args, get_origin

from sim.errors import ConfigError

T = TypeVar("T")

_MISSING = object()


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
