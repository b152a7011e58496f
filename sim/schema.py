"""The scenario reference, generated from the configuration classes themselves.

Walks ``Scenario`` and every nested configuration dataclass and renders one Markdown table
per TOML table: key, type, the values allowed (the field's declared constraints, see
``sim.config``), default and the field's documentation (the string literal that follows the
field in the class body, else nothing). ``[behaviours]`` comes from the strategy
registry: each role's kinds with their doc line, then each kind's parameter table.
``baasim schema`` prints it; README's "Scenario reference" is this output, and a test keeps the
two identical.
"""

from __future__ import annotations

import ast
import dataclasses
import inspect
import math
import re
import textwrap
import types
import typing
from typing import Any, Union, get_args, get_origin

from sim.config import constraints
from sim.distributions import Dist
from sim.scenario import Scenario
from sim.strategies import Behaviours, Registry, builtin_registry


def field_docs(cls: type) -> dict[str, str]:
    """Field name -> the docstring-like string literal that follows it in the class body
    (or in a base class's, for inherited fields)."""
    docs: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        if klass is not object:
            docs.update(_own_field_docs(klass))
    return docs


def _own_field_docs(cls: type) -> dict[str, str]:
    try:
        source = textwrap.dedent(inspect.getsource(cls))
    except (OSError, TypeError):
        return {}
    body = ast.parse(source).body[0]
    docs: dict[str, str] = {}
    if not isinstance(body, ast.ClassDef):
        return docs
    items = body.body
    for node, nxt in zip(items, [*items[1:], None], strict=True):
        if (
            isinstance(node, ast.AnnAssign)
            and isinstance(node.target, ast.Name)
            and isinstance(nxt, ast.Expr)
            and isinstance(nxt.value, ast.Constant)
            and isinstance(nxt.value.value, str)
        ):
            docs[node.target.id] = " ".join(nxt.value.value.split())
    return docs


def type_name(hint: Any) -> str:
    """How the reference spells a field's type."""
    origin = get_origin(hint)
    if origin is typing.Literal:
        return " \\| ".join(f'"{a}"' if isinstance(a, str) else str(a) for a in get_args(hint))
    if origin in (Union, types.UnionType):
        return " \\| ".join(type_name(a) for a in get_args(hint))
    if origin is tuple:
        args = get_args(hint)
        return f"list of {type_name(args[0]) if args else 'value'}"
    named = {type(None): "none", Dist: "distribution"}
    if hint in named:
        return named[hint]
    return "table" if dataclasses.is_dataclass(hint) else getattr(hint, "__name__", str(hint))


def _default(f: dataclasses.Field[Any]) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return dataclasses.MISSING


def show(value: Any) -> str:
    """How the reference shows a default value."""
    if isinstance(value, Dist):
        return _show_dist(value)
    if value is dataclasses.MISSING:
        return "*required*"
    if value is None:
        return "unset"
    if isinstance(value, bool):
        value = str(value).lower()
    elif isinstance(value, str):
        value = f'"{value}"'
    elif isinstance(value, tuple):
        value = list(value)
    return f"`{value}`"


def _show_dist(value: Dist) -> str:
    params = {
        f.name: getattr(value, f.name)
        for f in dataclasses.fields(value)
        if f.name != "kind" and getattr(value, f.name) not in (None, 0.0, math.inf)
    }
    inner = "".join(f", {k} = {v}" for k, v in params.items())
    return f'`{{kind = "{value.kind}"{inner}}}`'


def _sections(cls: type, path: str) -> list[tuple[str, type]]:
    """(TOML table path, class) for cls and every nested table class, depth first."""
    out = [(path, cls)]
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        hint = hints[f.name]
        sub = get_args(hint)[0] if get_origin(hint) is tuple else hint
        if hint is Behaviours:
            out.append((f.name, Behaviours))
        elif dataclasses.is_dataclass(sub) and sub is not Dist:
            key = f"{path}.{f.name}" if path else f.name
            if get_origin(hint) is tuple:
                key = f"[{key}]"
            out.extend(_sections(sub, key))  # type: ignore[arg-type]
    return out


def _dist_ranges() -> str:
    """The declared ranges of the distribution parameters, grouped: "Allowed: value, …: …"."""
    groups: dict[str, list[str]] = {}
    for name, declared in constraints(Dist).items():
        groups.setdefault("; ".join(c.describe() for c in declared), []).append(name)
    parts = [f"{', '.join(f'`{n}`' for n in names)}: {rule}" for rule, names in groups.items()]
    return "Allowed: " + "; ".join(parts) + "."


def render(registry: Registry | None = None) -> str:
    """The Markdown reference of every scenario table (kinds: installed ones by default)."""
    registry = registry if registry is not None else builtin_registry()
    lines = [
        "Distributions are tables `{kind = ..., ...}`: `constant` (value), `uniform` (low, "
        "high), `normal` (mean, std), `lognormal` (median, sigma), `exponential` (mean), "
        "`weibull` (shape, scale), each optionally clipped by `minimum` / `maximum`. "
        + _dist_ranges(),
        "",
    ]
    for path, cls in _sections(Scenario, ""):
        if cls is Behaviours:
            lines += _behaviours(path, registry)
            continue
        title = "top level" if not path else f"`[{path}]`"
        lines += [f"#### {title}", ""]
        lines += _table(cls)
    return "\n".join(lines).rstrip() + "\n"


def _table(cls: type) -> list[str]:
    """The class's doc (its ``[table]``: prefix cut) and its table of keys."""
    lines = []
    doc = inspect.getdoc(cls) or ""
    if doc:
        text = " ".join(doc.split())
        text = re.sub(r"^``\[[^\]]*\]``: ", "", text)
        lines += [text[:1].upper() + text[1:], ""]
    lines += ["| key | type | allowed | default | meaning |", "|---|---|---|---|---|"]
    hints = typing.get_type_hints(cls)
    docs = field_docs(cls)
    allowed = constraints(cls)
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        hint = hints[f.name]
        is_table = (dataclasses.is_dataclass(hint) and hint is not Dist) or hint is Behaviours
        if is_table or (get_origin(hint) is tuple and dataclasses.is_dataclass(get_args(hint)[0])):
            continue
        rule = "; ".join(c.describe() for c in allowed.get(f.name, ()))
        lines.append(
            f"| `{f.name}` | {type_name(hint)} | {rule} | {show(_default(f))} "
            f"| {docs.get(f.name, '')} |"
        )
    lines.append("")
    return lines


def _behaviours(path: str, registry: Registry) -> list[str]:
    """The registered kinds per role, then one ``[behaviours.<kind>]`` table per kind."""
    lines = [
        f"#### `[{path}]`",
        "",
        "Behaviour kinds, by role: name them in the `population.<role>_behaviours` mixes. "
        "Kinds come from installed packages (entry-point group `baasim.strategies`; these are "
        "baasim's own) and from the scenario's `plugins` files. A kind's parameters are its "
        f"table `[{path}.<kind>]`.",
        "",
        "| role | kind | parameters | what it does |",
        "|---|---|---|---|",
    ]
    tables: dict[str, type] = {}
    for kind in registry.kinds():
        has_params = bool(dataclasses.fields(kind.params))
        where = f"`[{path}.{kind.name}]`" if has_params else "none"
        lines.append(f"| {kind.role} | `{kind.name}` | {where} | {kind.doc} |")
        if has_params:
            tables.setdefault(kind.name, kind.params)
    lines.append("")
    for name, params in tables.items():
        lines += [f"#### `[{path}.{name}]`", ""]
        lines += _table(params)
    return lines
