"""Sweep files: what a Monte Carlo study varies, and the pure function that turns it into a grid.

A sweep file is TOML::

    name = "stake"                       # default: the file's stem
    description = "Verifier stake against lazy verifiers"
    scenario = "../quick.toml"           # base scenario, relative to this file
    seeds = 5                            # 0..4; or an explicit list: [3, 7, 11]

    [set]                                # fixed settings applied to the base first
    "tasks[0].count" = 2

    [[vary]]                             # one axis: a key path and its values
    key = "tasks[0].verifier_stake_ether"
    values = [0.0, 0.5, 1.0]

    [[vary]]                             # a range: start, stop (included when reached), step
    key = "tasks[0].slash_fraction"
    start = 0.0
    stop = 1.0
    step = 0.25

    [[vary]]                             # num values from start to stop; scale = "log" for
    key = "tasks[0].reward_ether"        # a geometric (log-spaced) range
    start = 1.0
    stop = 50.0
    num = 4
    scale = "log"

    [[vary]]                             # a zipped group: its keys advance together
    zip = [
      { key = "population.contributors", values = [2, 3, 5] },
      { key = "tasks[0].max_contributors", values = [2, 3, 5] },
    ]

A sweep file may add ``[deviations]`` (``roles``, ``kinds``, ``coalitions``): then every grid
point is a deviation study (``sim.sweep.deviations``) and the report draws the honesty region.

The grid is the Cartesian product of the axes, in file order (the last axis varies fastest).
Integer endpoints (and step) give integer values. ``grid`` is pure: it only expands values;
``sim.sweep.plan`` turns each grid point into a validated ``Scenario``.
"""

from __future__ import annotations

import itertools
import json
import math
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np

from contracts.errors import InvariantViolation
from sim.config import POSITIVE, Checked, Items, build
from sim.errors import ConfigError

Scale = Literal["linear", "log"]
GridPoint = dict[str, Any]
"""One point of a grid: key path -> value, in axis order."""


@dataclass(frozen=True)
class Values(Checked):
    """The values one key path takes: a list, a stepped range, or ``num`` values in a range."""

    key: str
    values: tuple[Any, ...] | None = None
    start: int | float | None = None
    stop: int | float | None = None
    step: int | float | None = None
    num: Annotated[int | None, POSITIVE] = None
    scale: Scale = "linear"

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.key.strip():
            raise ValueError("key: expected a scenario key path such as tasks[0].mafr")
        ranged = (self.start, self.stop, self.step, self.num)
        if self.values is not None:
            if any(v is not None for v in ranged) or self.scale != "linear":
                raise ValueError(
                    "values: give either values or start/stop with step or num, not both"
                )
            if not self.values:
                raise ValueError("values: expected at least one value")
            return
        self._check_range()

    def _check_range(self) -> None:
        if self.start is None or self.stop is None:
            raise ValueError("start: expected values = [...], or start and stop with step or num")
        if (self.step is None) == (self.num is None):
            raise ValueError("step: expected exactly one of step and num with start and stop")
        for name in ("start", "stop"):
            if not math.isfinite(getattr(self, name)):
                raise ValueError(f"{name}: expected a finite number, got {getattr(self, name)}")
        if self.step is not None:
            if self.scale == "log":
                raise ValueError('scale: "log" needs num, not step')
            if self.step == 0 or not math.isfinite(self.step):
                raise ValueError(f"step: expected a finite non-zero number, got {self.step}")
            if (self.stop - self.start) * self.step < 0:
                raise ValueError(
                    f"step: {self.step} never gets from start {self.start} to stop {self.stop}"
                )
        if self.scale == "log" and not (self.start > 0 and self.stop > 0):
            raise ValueError(
                f"scale: a log range needs start and stop > 0, got {self.start} and {self.stop}"
            )


@dataclass(frozen=True)
class Axis:
    """One axis of the product: a single key, or a zipped group of keys of equal length."""

    params: tuple[Values, ...]

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(p.key for p in self.params)


@dataclass(frozen=True)
class DeviationsSpec(Checked):
    """``[deviations]``: a deviation study at every grid point (the honesty region).

    Every grid point's scenario is run once per seed as the base, and once per seed for each
    (kind, coalition size) with that many agents of the kind's role deviating together
    (``sim.sweep.deviations``); the sweep's ``seeds`` are the study's seeds."""

    roles: tuple[str, ...] = ()
    """Roles whose kinds deviate (default: every role)."""
    kinds: tuple[str, ...] = ()
    """Deviation kinds (default: every registered non-honest kind of those roles)."""
    coalitions: Annotated[tuple[int, ...], Items(POSITIVE, min_len=1, what="coalition size")] = (1,)
    """Coalition sizes: 1 is a unilateral deviation."""


@dataclass(frozen=True)
class SweepSpec:
    """A whole sweep definition, as read from a sweep file (or built from CLI flags)."""

    name: str
    scenario: str
    """Path of the base scenario file (``load_sweep`` makes it absolute)."""
    description: str = ""
    seeds: int | tuple[int, ...] | None = None
    """A count (seeds 0..n-1) or an explicit list; None takes the base scenario's run.seeds."""
    set: Mapping[str, Any] = field(default_factory=dict)
    """Fixed key-path settings applied to the base scenario before the grid."""
    vary: tuple[Axis, ...] = ()
    source: str = ""
    """Where the definition came from (a file path, or "command line"), for messages."""
    deviations: DeviationsSpec | None = None
    """``[deviations]``: run a deviation study at every point instead of plain runs."""

    def __post_init__(self) -> None:
        if isinstance(self.seeds, int) and not isinstance(self.seeds, bool) and self.seeds < 1:
            raise ValueError(f"seeds: expected a count >= 1 or a list of seeds, got {self.seeds}")
        if isinstance(self.seeds, tuple):
            if not self.seeds:
                raise ValueError("seeds: expected at least one seed")
            if any(s < 0 for s in self.seeds):
                raise ValueError(f"seeds: expected non-negative integers, got {list(self.seeds)}")
            if len(set(self.seeds)) != len(self.seeds):
                raise ValueError(f"seeds: a seed is listed twice in {list(self.seeds)}")
        keys = [k for axis in self.vary for k in axis.keys]
        for key in keys:
            if keys.count(key) > 1:
                raise ValueError(f"vary: key {key!r} is varied by more than one axis")
            if key in self.set:
                raise ValueError(f"vary: key {key!r} is both varied and fixed in [set]")

    @property
    def parameters(self) -> tuple[str, ...]:
        """Every varied key path, in axis order."""
        return tuple(k for axis in self.vary for k in axis.keys)

    def seed_list(self, default: Sequence[int]) -> tuple[int, ...]:
        if self.seeds is None:
            return tuple(default)
        if isinstance(self.seeds, int):
            return tuple(range(self.seeds))
        return self.seeds


# ---------------------------------------------------------------- expanding values


def expand(values: Values) -> tuple[Any, ...]:
    """The concrete values of one parameter, in order."""
    if values.values is not None:
        return values.values
    start, stop = values.start, values.stop
    if start is None or stop is None:  # Values.__post_init__ rules this out
        raise InvariantViolation(f"{values.key}: a range without start and stop")
    integral = _is_int(start) and _is_int(stop) and (values.step is None or _is_int(values.step))
    if values.step is not None:
        n = math.floor((stop - start) / values.step + 1e-9) + 1
        raw = [start + i * values.step for i in range(n)]
    elif values.scale == "log":
        raw = list(np.geomspace(start, stop, values.num or 1))
    else:
        raw = list(np.linspace(start, stop, values.num or 1))
    if integral:
        return tuple(dict.fromkeys(int(np.rint(v)) for v in raw))
    return tuple(_tidy(float(v)) for v in raw)


def _is_int(x: float) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def _tidy(x: float) -> float:
    """0.30000000000000004 -> 0.3: a range's values read as they were meant."""
    return float(f"{x:.12g}")


def axis_values(axis: Axis) -> list[GridPoint]:
    """The points along one axis (a zipped group advances its keys together)."""
    columns = [expand(p) for p in axis.params]
    lengths = {len(c) for c in columns}
    if len(lengths) > 1:
        shown = ", ".join(
            f"{p.key} has {len(c)}" for p, c in zip(axis.params, columns, strict=True)
        )
        raise ConfigError(f"zip: keys advance together and need equal numbers of values ({shown})")
    return [dict(zip(axis.keys, row, strict=True)) for row in zip(*columns, strict=True)]


def grid(spec: SweepSpec | Sequence[Axis]) -> list[GridPoint]:
    """Every point of the sweep: the product of its axes, last axis fastest."""
    axes = spec.vary if isinstance(spec, SweepSpec) else tuple(spec)
    points: list[GridPoint] = []
    for combo in itertools.product(*(axis_values(a) for a in axes)):
        point: GridPoint = {}
        for part in combo:
            point.update(part)
        points.append(point)
    return points


# ---------------------------------------------------------------- reading definitions


_TOP_KEYS = ("name", "description", "scenario", "seeds", "set", "vary", "deviations")


def load_sweep(path: str | Path) -> SweepSpec:
    """Read and check a sweep file; the base scenario path is resolved against its folder."""
    return spec_from_table(read_sweep_table(path), where=str(path))


def read_sweep_table(path: str | Path) -> dict[str, Any]:
    """The parsed table of a sweep file, ``name`` defaulted and ``scenario`` resolved."""
    p = Path(path)
    where = str(path)
    try:
        table = tomllib.loads(p.read_text())
    except FileNotFoundError:
        raise ConfigError(f"{where}: no such sweep file") from None
    except OSError as err:
        raise ConfigError(f"{where}: cannot read: {err}") from err
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{where}: not valid TOML: {err}") from err
    table.setdefault("name", p.stem)
    if isinstance(table.get("scenario"), str):
        table["scenario"] = str((p.parent / table["scenario"]).resolve())
    return table


def spec_from_table(table: Mapping[str, Any], where: str = "<sweep>") -> SweepSpec:
    """A ``SweepSpec`` from a parsed sweep table; ConfigError names ``where`` and the key."""
    for key in table:
        if key not in _TOP_KEYS:
            raise ConfigError(
                f"{where}: unknown key {key!r}; expected one of: {', '.join(_TOP_KEYS)}"
            )
    if "scenario" not in table:
        raise ConfigError(f"{where}: missing key 'scenario' (the base scenario file)")
    vary = table.get("vary", [])
    if not isinstance(vary, list):
        raise ConfigError(f"{where}: vary: expected [[vary]] tables, got {type(vary).__name__}")
    axes = tuple(parse_axis(t, where=where, path=f"vary[{i}]") for i, t in enumerate(vary))
    top = {k: v for k, v in table.items() if k != "vary"}
    spec = build(SweepSpec, top | {"source": where}, where=where)
    try:
        return SweepSpec(**{**_fields(spec), "vary": axes})
    except ValueError as err:
        raise ConfigError(f"{where}: {err}") from err


def parse_axis(table: Any, *, where: str, path: str) -> Axis:
    """One ``[[vary]]`` table: a single parameter, or ``zip = [...]`` of parameters."""
    if not isinstance(table, Mapping):
        raise ConfigError(f"{where}: {path}: expected a table, got {table!r}")
    if "zip" not in table:
        return Axis((build(Values, table, where=where, path=path),))
    if set(table) != {"zip"}:
        extra = sorted(set(table) - {"zip"})
        raise ConfigError(f"{where}: {path}: a zipped group has only 'zip', got also {extra}")
    group = table["zip"]
    if not isinstance(group, list) or len(group) < 2:
        raise ConfigError(f"{where}: {path}.zip: expected a list of two or more parameter tables")
    params = tuple(
        build(Values, t, where=where, path=f"{path}.zip[{j}]") for j, t in enumerate(group)
    )
    axis = Axis(params)
    try:
        axis_values(axis)
    except ConfigError as err:
        raise ConfigError(f"{where}: {path}.{err}") from err
    return axis


def _fields(spec: SweepSpec) -> dict[str, Any]:
    return {name: getattr(spec, name) for name in SweepSpec.__dataclass_fields__}


# ---------------------------------------------------------------- writing definitions


def to_toml(spec: SweepSpec) -> str:
    """The sweep file that defines ``spec`` (what ``load_sweep`` reads back to the same spec)."""
    lines = [f"name = {toml_value(spec.name)}"]
    if spec.description:
        lines.append(f"description = {toml_value(spec.description)}")
    lines.append(f"scenario = {toml_value(spec.scenario)}")
    if spec.seeds is not None:
        seeds = spec.seeds if isinstance(spec.seeds, int) else list(spec.seeds)
        lines.append(f"seeds = {toml_value(seeds)}")
    if spec.set:
        lines += ["", "[set]"]
        lines += [f"{toml_value(k)} = {toml_value(v)}" for k, v in spec.set.items()]
    for axis in spec.vary:
        lines += ["", "[[vary]]"]
        if len(axis.params) == 1:
            lines += [f"{k} = {toml_value(v)}" for k, v in _param_table(axis.params[0]).items()]
        else:
            rows = [f"  {toml_value(_param_table(p))}," for p in axis.params]
            lines += ["zip = [", *rows, "]"]
    if spec.deviations is not None:
        d = spec.deviations
        lines += ["", "[deviations]"]
        lines += [f"{k} = {toml_value(list(getattr(d, k)))}" for k in ("roles", "kinds")]
        lines.append(f"coalitions = {toml_value(list(d.coalitions))}")
    return "\n".join(lines) + "\n"


def _param_table(p: Values) -> dict[str, Any]:
    table: dict[str, Any] = {"key": p.key}
    for name in ("values", "start", "stop", "step", "num"):
        value = getattr(p, name)
        if value is not None:
            table[name] = list(value) if isinstance(value, tuple) else value
    if p.scale != "linear":
        table["scale"] = p.scale
    return table


def toml_value(value: Any) -> str:
    """``value`` written as a TOML value (strings, numbers, booleans, lists, inline tables)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value)  # a JSON string is a valid TOML basic string
    if isinstance(value, (int, float)):
        return _toml_number(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, Mapping):
        items = ", ".join(f"{toml_value(str(k))} = {toml_value(v)}" for k, v in value.items())
        return "{ " + items + " }" if items else "{}"
    raise ConfigError(f"cannot write {value!r} ({type(value).__name__}) as a TOML value")


def _toml_number(value: float) -> str:
    if isinstance(value, int) or math.isfinite(value):
        return repr(value)
    if math.isnan(value):
        return "nan"
    return "inf" if value > 0 else "-inf"
