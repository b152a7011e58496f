"""What tune and sensitivity files share: searched parameters, run metrics, and plans.

A search (``baasim tune``, ``sim.sweep.tune``) or a sensitivity analysis (``baasim
sensitivity``, ``sim.sweep.sensitivity``) names a base scenario, fixed settings (``[set]``),
seeds, and parameters with ranges (``[[param]]``)::

    [[param]]
    key = "tasks[0].verifier_stake_ether"   # a key path, as --set takes it
    low = 0.0
    high = 2.0
    step = 0.25                             # optional: a grid of this spacing
    [[param]]
    key = "tasks[0].committee_size"
    type = "int"                            # "float" (default), "int"
    low = 1
    high = 5
    [[param]]
    key = "tasks[0].reward_ether"
    low = 1.0
    high = 50.0
    log = true                              # sampled on a log scale
    [[param]]
    key = "tasks[0].aggregation"
    choices = ["majority", "median"]        # categorical (tune only)

Both turn the points they choose into one ordinary sweep directory (``points_plan``): one
zipped axis holding every distinct point so far, so every run is a run directory that the
sweep machinery (executors, caches, resume) handles, and a point asked twice runs once.
``point_values`` reads a point's runs back as per-metric lists over seeds; ``statistic``
condenses one list into the mean or a confidence bound (``analysis.stats.mean_ci``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import pandas as pd

from analysis.metrics import metric_info, metric_range
from analysis.stats import mean_ci
from sim.config import Checked, Interval, Items, build
from sim.errors import ConfigError
from sim.scenario import Scenario, load_scenario, with_values
from sim.sweep.plan import Plan, Point, run_id
from sim.sweep.spec import Axis, DeviationsSpec, SweepSpec, Values

ParamType = Literal["float", "int"]
Rule = Literal["mean", "ci"]
LEVEL = Interval(0, 1, closed="neither")


@dataclass(frozen=True)
class Param(Checked):
    """``[[param]]``: one searched scenario value and its range."""

    key: str
    """The scenario key path (``tasks[0].verifier_stake_ether``)."""
    low: float | None = None
    high: float | None = None
    type: ParamType = "float"
    log: bool = False
    """Search/sample on a log scale (low and high > 0)."""
    step: Annotated[float | None, Interval(0, None, closed="neither")] = None
    """Only values low, low + step, …, high (a grid's resolution)."""
    choices: Annotated[tuple[Any, ...] | None, Items(min_len=2, what="choice")] = None
    """Categorical values (instead of low/high)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.key.strip():
            raise ValueError("key: expected a scenario key path such as tasks[0].mafr")
        if self.choices is not None:
            if self.low is not None or self.high is not None or self.log or self.step:
                raise ValueError("choices: give either choices or low/high, not both")
            return
        if self.low is None or self.high is None:
            raise ValueError("low: expected low and high (or choices)")
        if not (math.isfinite(self.low) and math.isfinite(self.high)) or self.low >= self.high:
            raise ValueError(f"high: expected finite low < high, got {self.low} and {self.high}")
        if self.log and self.low <= 0:
            raise ValueError(f"log: a log range needs low > 0, got {self.low}")
        if self.log and self.step is not None:
            raise ValueError("step: a log range takes no step")
        if self.type == "int" and not (
            float(self.low).is_integer() and float(self.high).is_integer()
        ):
            raise ValueError(
                f"low: an int parameter needs integer bounds, got {self.low}, {self.high}"
            )

    @property
    def categorical(self) -> bool:
        return self.choices is not None

    def value(self, x: float) -> Any:
        """A sampled number as the scenario value: rounded for int parameters."""
        return round(x) if self.type == "int" else float(f"{x:.12g}")


@dataclass(frozen=True)
class Target(Checked):
    """``[[objective]]`` and ``[[constraint]]``: a run metric and what is asked of it."""

    metric: str
    direction: Literal["minimize", "maximize"] = "minimize"
    """Objectives only."""
    op: Literal[">=", "<="] = "<="
    """Constraints only: the metric must be at least / at most ``bound``."""
    bound: float | None = None
    """Constraints only."""
    rule: Rule = "ci"
    """Constraints only: ``ci`` holds the confidence bound on the safe side (the lower bound
    for ``>=``, the upper for ``<=``) to ``bound``; ``mean`` the mean over seeds."""

    @property
    def label(self) -> str:
        if self.bound is None:
            return f"{self.direction} {self.metric}"
        side = {"ci": "CI bound of ", "mean": "mean "}[self.rule]
        return f"{side}{self.metric} {self.op} {self.bound:g}"


def parse_params(table: Any, where: str) -> tuple[Param, ...]:
    """The ``[[param]]`` tables: at least one, keys distinct."""
    if not isinstance(table, list) or not table:
        raise ConfigError(f"{where}: param: expected one or more [[param]] tables")
    params = tuple(build(Param, t, where=where, path=f"param[{i}]") for i, t in enumerate(table))
    keys = [p.key for p in params]
    for i, key in enumerate(keys):
        if keys.index(key) != i:
            raise ConfigError(f"{where}: param[{i}].key: {key!r} is searched twice")
    return params


def parse_targets(table: Any, where: str, name: str, constraint: bool) -> tuple[Target, ...]:
    """``[[objective]]`` or ``[[constraint]]`` tables, each naming a known run metric."""
    if table is None:
        return ()
    if not isinstance(table, list):
        raise ConfigError(f"{where}: {name}: expected [[{name}]] tables")
    targets = []
    for i, t in enumerate(table):
        target = build(Target, t, where=where, path=f"{name}[{i}]")
        check_metric(target.metric, where, f"{name}[{i}].metric")
        if constraint and target.bound is None:
            raise ConfigError(f"{where}: {name}[{i}].bound: expected the bound, a number")
        if not constraint and target.bound is not None:
            raise ConfigError(f"{where}: {name}[{i}].bound: an objective has no bound")
        targets.append(target)
    return tuple(targets)


def check_metric(metric: str, where: str, key: str) -> None:
    """ConfigError unless ``metric`` is a registered run metric (``analysis.metrics``)."""
    if metric_info(metric) is None:
        raise ConfigError(
            f"{where}: {key}: unknown run metric {metric!r}; expected a summary metric such "
            "as task_success_rate or net_profit_by_behaviour.verifier.honest (README: "
            "'Reading the outputs')"
        )


def base_scenario(path: str, fixed: Mapping[str, Any], where: str) -> Scenario:
    """The base scenario with ``[set]`` applied."""
    try:
        base = load_scenario(path)
    except FileNotFoundError:
        raise ConfigError(f"{where}: scenario: no such file {path}") from None
    return with_values(base, fixed, where=f"{where}: [set]") if fixed else base


def check_params(base: Scenario, params: Sequence[Param], where: str) -> None:
    """Every parameter's key exists and takes its range's ends (ConfigError naming it)."""
    for i, p in enumerate(params):
        ends = p.choices if p.choices is not None else (p.value(p.low or 0), p.value(p.high or 0))
        for value in ends:
            with_values(base, {p.key: value}, where=f"{where}: param[{i}] ({p.key})")


def read_table(path: str) -> dict[str, Any]:
    """A tune or sensitivity file as a table, ``scenario`` resolved against its folder."""
    from sim.sweep.spec import read_sweep_table

    return read_sweep_table(path)


def check_keys(table: Mapping[str, Any], allowed: Sequence[str], where: str) -> None:
    for key in table:
        if key not in allowed:
            raise ConfigError(
                f"{where}: unknown key {key!r}; expected one of: {', '.join(allowed)}"
            )


def read_search(
    path: str, allowed: Sequence[str]
) -> tuple[dict[str, Any], Mapping[str, Any], Scenario, tuple[Param, ...]]:
    """What tune and sensitivity files share: the table (keys checked), ``[set]``, the base
    scenario with it applied, and the ``[[param]]`` ranges (ConfigError naming file and key)."""
    table = read_table(path)
    check_keys(table, allowed, path)
    if "scenario" not in table:
        raise ConfigError(f"{path}: missing key 'scenario' (the base scenario file)")
    fixed = table.get("set", {})
    base = base_scenario(table["scenario"], fixed, path)
    return table, fixed, base, parse_params(table.get("param"), path)


def integer(table: Mapping[str, Any], key: str, default: Any, where: str, low: int = 1) -> Any:
    """``key``'s integer (at least ``low``), or ``default`` when the file leaves it out."""
    if key not in table:
        return default
    value = table[key]
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ConfigError(f"{where}: {key}: expected an integer >= {low}, got {value!r}")
    return value


def seeds_of(table: Mapping[str, Any], base: Scenario, where: str) -> tuple[int, ...]:
    """``seeds``: a count or a list (default: the base scenario's ``run.seeds``)."""
    seeds = table.get("seeds")
    if seeds is None:
        return tuple(base.run.seeds)
    if isinstance(seeds, int) and not isinstance(seeds, bool) and seeds >= 1:
        return tuple(range(seeds))
    if (
        isinstance(seeds, list)
        and seeds
        and all(isinstance(s, int) and s >= 0 for s in seeds)
        and len(set(seeds)) == len(seeds)
    ):
        return tuple(seeds)
    raise ConfigError(f"{where}: seeds: expected a count >= 1 or a list of distinct seeds >= 0")


# ---------------------------------------------------------------- points as a sweep


@dataclass(frozen=True)
class Points:
    """The distinct points of a search so far, as the sweep plan that runs them."""

    plan: Plan
    index: dict[str, int]
    """Scenario digest -> plan point."""

    def point_of(self, scenario: Scenario) -> int:
        return self.index[scenario.digest]


def points_plan(
    name: str,
    source: str,
    base_path: str,
    fixed: Mapping[str, Any],
    base: Scenario,
    seeds: Sequence[int],
    keys: Sequence[str],
    rows: Sequence[Mapping[str, Any]],
    deviations: DeviationsSpec | None = None,
) -> tuple[SweepSpec, Points]:
    """The sweep of the distinct scenarios ``rows`` give (first occurrence first): one zipped
    axis over ``keys``, so the directory is an ordinary sweep directory."""
    scenarios: dict[str, tuple[dict[str, Any], Scenario]] = {}
    for row in rows:
        values = {k: row[k] for k in keys}
        scenario = with_values(base, values, where=f"{source}: point {values}")
        scenarios.setdefault(scenario.digest, (values, scenario))
    distinct = list(scenarios.values())
    columns = tuple(
        Values(k, values=tuple(v[k] for v, _ in distinct)) for k in keys
    )  # one axis: the keys advance together
    spec = SweepSpec(
        name=name,
        scenario=base_path,
        seeds=tuple(seeds),
        set=dict(fixed),
        vary=(Axis(columns),),
        source=source,
        deviations=deviations,
    )
    points = tuple(Point(i, v, s) for i, (v, s) in enumerate(distinct))
    plan = Plan(spec, base, points, tuple(seeds), _text(base_path))
    return spec, Points(plan, {s.digest: i for i, (_, s) in enumerate(distinct)})


def _text(path: str) -> str:
    try:
        return Path(path).read_text()
    except OSError:
        return ""


def point_values(
    runs: pd.DataFrame, scenario: Scenario, seeds: Sequence[int], metrics: Sequence[str]
) -> dict[str, list[float]]:
    """Each metric's values over the finished runs of ``scenario`` (one per seed; a metric a
    run's summary lacks is NaN)."""
    ids = {run_id(scenario, s) for s in seeds}
    mine = runs[runs["run_id"].isin(ids) & runs["status"].isin(("completed", "timed_out"))]
    out: dict[str, list[float]] = {}
    for m in metrics:
        column = mine[m] if m in mine.columns else pd.Series([math.nan] * len(mine))
        out[m] = [float(v) for v in column]
    return out


def statistic(values: Sequence[float], rule: Rule, side: str, metric: str, level: float) -> float:
    """The mean of ``values``, or (rule ``ci``) the confidence bound on ``side`` ("low" or
    "high"). With no spread over seeds the bound is the mean (equal values leave no
    interval); with one seed it is NaN (nothing to bound)."""
    n, mean, _, low, high = mean_ci(values, level, "auto", bounds=metric_range(metric))
    if rule == "mean" or n == 0:
        return mean
    if n == 1:
        return math.nan
    bound = low if side == "low" else high
    return mean if math.isnan(bound) else bound


def violation(target: Target, values: Sequence[float], level: float) -> float:
    """How far a constraint is from holding (<= 0: it holds), in the metric's shown unit;
    +inf when it cannot be judged (no finite value)."""
    side = "low" if target.op == ">=" else "high"
    x = statistic(values, target.rule, side, target.metric, level)
    if not math.isfinite(x) or target.bound is None:
        return math.inf
    scale = _scale(target.metric)
    return (target.bound - x * scale) if target.op == ">=" else (x * scale - target.bound)


def _scale(metric: str) -> float:
    info = metric_info(metric)
    return info.scale if info is not None else 1.0


def shown(metric: str, value: float) -> float:
    """A stored metric value in its shown unit (wei -> ether)."""
    return value * _scale(metric)
