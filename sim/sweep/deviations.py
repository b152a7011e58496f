"""Deviation studies: does any agent gain by leaving honest behaviour, at these parameters?

``build_deviation_plan`` turns a scenario into a sweep plan: point 0 is the base scenario (its
runs are shared by every deviation: one per seed), and each further point is the scenario with
one agent of a role (or a coalition of ``coalition`` agents) switched to a non-honest kind,
through ``population.deviants`` (agents chosen per seed from the run's own streams) or
``population.assign`` (explicit positions). The plan runs through the sweep machinery
(``run_sweep``: the resumable ``SweepDir`` store, local or Dask executors, shared caches), so
a run means the same thing in any study and re-running resumes. ``write_deviations`` pairs
each deviating run with its seed's base run and writes ``deviations.parquet`` (one row per
pair), ``deviations.json`` (the verdicts) and ``deviations/index.html`` with its chart; the
table and chart come from ``analysis.deviations``.

A kind that cannot apply to the scenario is reported with the reason instead of run: no
honest agent of the role to switch, a position outside the population, or the kind's own
``not_applicable(scenario)`` (a method its parameters class may define; e.g. copycat when
every task uses commit-reveal).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from analysis.deviations import (
    METHOD,
    Pair,
    chart_png,
    honesty_cost,
    page_html,
    pairs_table,
    region_png,
    region_row,
    verdicts,
)
from sim.errors import ConfigError
from sim.paths import atomic_path, atomic_write
from sim.scenario import Scenario, load_scenario, with_values
from sim.strategies import ROLES
from sim.sweep.execute import Executor, SweepStatus, run_sweep
from sim.sweep.plan import Plan, Point, build_plan, plain, run_id
from sim.sweep.spec import SweepSpec

HONEST = "honest"


@dataclass(frozen=True)
class Deviation:
    """One deviation: ``coalition`` agents of ``role`` play ``kind`` together."""

    role: str
    kind: str
    coalition: int = 1

    @property
    def label(self) -> str:
        return f"{self.role}/{self.kind}" + (f" x{self.coalition}" if self.coalition > 1 else "")


@dataclass(frozen=True)
class NotApplicable:
    """A deviation that was not run, and why."""

    role: str
    kind: str
    reason: str


@dataclass(frozen=True)
class Study:
    """One grid point's deviation study: its base point and its deviating points."""

    values: Mapping[str, Any]
    """The grid point's values (empty for a study of one scenario)."""
    base: int
    """Plan point of the base scenario."""
    deviations: tuple[tuple[Deviation, int], ...]
    """Each deviation and its plan point."""
    not_applicable: tuple[NotApplicable, ...]

    @property
    def label(self) -> str:
        return ", ".join(f"{k}={v}" for k, v in self.values.items()) or "base scenario"


@dataclass(frozen=True)
class DeviationPlan:
    """The sweep plan of one study or of one study per grid point (the honesty region)."""

    plan: Plan
    studies: tuple[Study, ...]
    parameters: tuple[str, ...] = ()
    """The grid's key paths (empty for a study of one scenario)."""
    axes: tuple[str, ...] = ()
    """One key path per grid axis (a zipped group's first): the region figure's axes."""

    @property
    def deviations(self) -> tuple[Deviation, ...]:
        return tuple(d for s in self.studies for d, _ in s.deviations)

    @property
    def not_applicable(self) -> tuple[NotApplicable, ...]:
        return tuple(n for s in self.studies for n in s.not_applicable)

    @property
    def naive_runs(self) -> int:
        """Runs a study without shared base runs would need: deviations × seeds × 2."""
        return 2 * len(self.deviations) * len(self.plan.seeds)


@dataclass(frozen=True)
class Selection:
    """Which deviations a study runs."""

    roles: tuple[str, ...] = ROLES
    kinds: frozenset[str] | None = None
    """None: every registered non-honest kind of the roles."""
    coalitions: tuple[int, ...] = (1,)
    agents: tuple[int, ...] | None = None
    """Pinned positions (``population.assign``) instead of deviants drawn per seed."""


def select(
    scenario: Scenario,
    roles: Sequence[str] | None = None,
    kinds: Sequence[str] | None = None,
    agents: Sequence[int] | None = None,
    coalitions: Sequence[int] | None = None,
) -> Selection:
    """The options checked against ``scenario``'s registry; ConfigError names the option."""
    chosen = _roles(roles)
    wanted = _kinds(kinds, chosen, scenario.behaviours.registry.names)
    if agents is not None:
        size = _coalition(coalitions[0] if coalitions else None, agents)
        return Selection(chosen, wanted, (size,), tuple(agents))
    sizes = tuple(coalitions) if coalitions else (1,)
    for size in sizes:
        _coalition(size, None)
    return Selection(chosen, wanted, sizes)


def build_deviation_plan(
    scenario: str | Path,
    seeds: int | Sequence[int] | None = None,
    *,
    roles: Sequence[str] | None = None,
    kinds: Sequence[str] | None = None,
    agents: Sequence[int] | None = None,
    coalition: int | None = None,
    overrides: Mapping[str, Any] | None = None,
    name: str | None = None,
) -> DeviationPlan:
    """Validate every deviation of ``scenario`` the options select; nothing runs yet."""
    path = Path(scenario).resolve()
    base = load_scenario(path)
    if overrides:
        base = with_values(base, overrides, where="--set")
    selection = select(base, roles, kinds, agents, [coalition] if coalition is not None else None)
    points: list[Point] = []
    study = _study(base, {}, selection, points)
    spec = SweepSpec(
        name=name or f"{base.name}-deviations",
        scenario=str(path),
        description=f"Unilateral deviations from {base.name}",
        seeds=_seeds(seeds),
        set=dict(overrides or {}),
        source="baasim deviations",
    )
    try:
        text = path.read_text()
    except OSError:
        text = ""
    plan = Plan(spec, base, tuple(points), spec.seed_list(base.run.seeds), text)
    return DeviationPlan(plan, (study,))


def build_region_plan(spec: SweepSpec) -> DeviationPlan:
    """A deviation study at every grid point of ``spec`` (its ``[deviations]`` table)."""
    if spec.deviations is None:
        raise ConfigError(f"{spec.source}: no [deviations] table")
    grid_plan = build_plan(spec)
    d = spec.deviations
    points: list[Point] = []
    studies = []
    for p in grid_plan.points:
        selection = select(p.scenario, d.roles or None, d.kinds or None, None, d.coalitions or None)
        studies.append(_study(p.scenario, p.values, selection, points))
    plan = Plan(spec, grid_plan.base, tuple(points), grid_plan.seeds, grid_plan.base_text)
    axes = tuple(axis.keys[0] for axis in spec.vary)
    return DeviationPlan(plan, tuple(studies), spec.parameters, axes)


def _study(
    base: Scenario, values: Mapping[str, Any], selection: Selection, points: list[Point]
) -> Study:
    """Append the base point and every applicable deviation point to ``points``."""
    registry = base.behaviours.registry
    base_index = len(points)
    points.append(Point(base_index, {**values, "deviation": "base"}, base))
    deviations: list[tuple[Deviation, int]] = []
    skipped: list[NotApplicable] = []
    for role in selection.roles:
        names = [k for k in registry.names(role) if k != HONEST]
        if not names and selection.kinds is None:
            skipped.append(NotApplicable(role, "*", "no non-honest kind is registered"))
        for kind in names:
            if selection.kinds is not None and kind not in selection.kinds:
                continue
            for size in selection.coalitions:
                deviation = Deviation(role, kind, size)
                derived = _derive(base, deviation, selection.agents)
                if isinstance(derived, str):
                    skipped.append(NotApplicable(role, kind, derived))
                    continue
                index = len(points)
                more = {"deviation": deviation.label, "role": role, "kind": kind}
                points.append(Point(index, {**values, **more, "coalition": size}, derived))
                deviations.append((deviation, index))
    return Study(dict(values), base_index, tuple(deviations), tuple(skipped))


def _coalition(coalition: int | None, agents: Sequence[int] | None) -> int:
    if agents is not None:
        if coalition is not None and coalition != len(agents):
            raise ConfigError(
                f"--coalition {coalition}: --agents names {len(agents)} position(s); give "
                "as many positions as the coalition has members"
            )
        if len(set(agents)) != len(agents) or any(a < 0 for a in agents):
            raise ConfigError(f"--agents: expected distinct indices >= 0, got {list(agents)}")
        return len(agents)
    size = 1 if coalition is None else coalition
    if size < 1:
        raise ConfigError(f"--coalition: expected a size >= 1, got {size}")
    return size


def _roles(roles: Sequence[str] | None) -> tuple[str, ...]:
    if not roles:
        return ROLES
    for role in roles:
        if role not in ROLES:
            raise ConfigError(f"--role: unknown role {role!r}; expected one of {', '.join(ROLES)}")
    return tuple(roles)


def _kinds(
    kinds: Sequence[str] | None,
    roles: tuple[str, ...],
    names: Callable[[str], tuple[str, ...]],
) -> frozenset[str] | None:
    if not kinds:
        return None
    known = {k for role in roles for k in names(role) if k != HONEST}
    for kind in kinds:
        if kind not in known:
            raise ConfigError(
                f"--kinds: {kind!r} is no deviation kind of {'/'.join(roles)}; expected one of "
                f"{', '.join(sorted(known))}"
            )
    return frozenset(kinds)


def _seeds(seeds: int | Sequence[int] | None) -> int | tuple[int, ...] | None:
    if seeds is None or isinstance(seeds, int):
        return seeds
    return tuple(seeds)


def _derive(base: Scenario, d: Deviation, agents: Sequence[int] | None) -> Scenario | str:
    """The deviating scenario, or why the deviation cannot apply to ``base``."""
    params = base.behaviours[d.kind]
    check = getattr(params, "not_applicable", None)
    reason = check(base) if check is not None else None
    if reason:
        return str(reason)
    pop = base.population
    n = {role: count for role, _, count in pop.mixes()}[d.role]
    if agents is not None:
        outside = [a for a in agents if a >= n]
        if outside:
            return f"position {outside[0]} is outside the {n} {d.role}(s) at the start"
        assign = dict(pop.assign) | {f"{d.role}-{a}": d.kind for a in agents}
        values: dict[str, Any] = {"population.assign": assign}
    else:
        deviants = {role: dict(m) for role, m in pop.deviants.items()}
        deviants[d.role] = deviants.get(d.role, {}) | {d.kind: d.coalition}
        values = {"population.deviants": deviants}
    try:
        return with_values(base, values, where=f"deviation {d.label}")
    except ConfigError as err:
        return str(err).removeprefix(f"deviation {d.label}: ")


# ---------------------------------------------------------------- running and writing


@dataclass(frozen=True)
class DeviationStatus:
    """What one study did and where its outputs are."""

    sweep: SweepStatus
    table: Path
    verdicts: Path
    page: Path
    rows: tuple[dict[str, Any], ...]
    pairs: int
    missing_pairs: int
    wall_s: float


def run_deviations(
    dplan: DeviationPlan,
    out: str | Path,
    executor: Executor,
    *,
    threads: int | None = None,
    progress: bool = True,
    echo: Callable[[str], None] = print,
) -> DeviationStatus:
    """Run every unfinished run of the study into ``out``, then write its tables and page."""
    start = time.perf_counter()
    for skipped in dplan.not_applicable:
        echo(f"not applicable: {skipped.role}/{skipped.kind}: {skipped.reason}")
    status = run_sweep(dplan.plan, out, executor, threads=threads, progress=progress, echo=echo)
    return write_deviations(dplan, out, status, time.perf_counter() - start)


def load_pairs(
    dplan: DeviationPlan, out: str | Path
) -> tuple[list[Pair], dict[int, list[dict[str, Any]]], int]:
    """The (base, deviating) pairs whose runs both finished, each study's base summaries
    (by study index), and how many pairs are missing."""
    runs = Path(out) / "runs"
    plan = dplan.plan
    pairs: list[Pair] = []
    bases: dict[int, list[dict[str, Any]]] = {}
    missing = 0
    for i, study in enumerate(dplan.studies):
        for seed in plan.seeds:
            base = _summary(runs / run_id(plan.points[study.base].scenario, seed))
            if base is not None:
                bases.setdefault(i, []).append(base)
            for d, index in study.deviations:
                deviant = _summary(runs / run_id(plan.points[index].scenario, seed))
                if base is None or deviant is None:
                    missing += 1
                    continue
                pairs.append(Pair(d.role, d.kind, d.coalition, seed, base, deviant, study.values))
    return pairs, bases, missing


def _summary(run_dir: Path) -> dict[str, Any] | None:
    try:
        summary: dict[str, Any] = json.loads((run_dir / "summary.json").read_text())
    except FileNotFoundError:
        return None
    return summary


def write_deviations(
    dplan: DeviationPlan, out: str | Path, status: SweepStatus, wall_s: float
) -> DeviationStatus:
    """Write ``deviations.parquet``, ``deviations.json`` and ``deviations/index.html``."""
    root = Path(out)
    pairs, bases, missing = load_pairs(dplan, root)
    table = pairs_table(pairs, dplan.parameters)
    rows = verdicts(table, dplan.parameters)
    region = [
        region_row(
            study.values,
            [r for r in rows if all(r["point"].get(k) == v for k, v in study.values.items())],
            [n.__dict__ for n in study.not_applicable],
            honesty_cost(bases.get(i, [])),
        )
        for i, study in enumerate(dplan.studies)
    ]
    table_path = root / "deviations.parquet"
    with atomic_path(table_path) as tmp:
        table.to_parquet(tmp, index=False)
    json_path = root / "deviations.json"
    report = _report(dplan, rows, region, status, missing, wall_s)
    atomic_write(json_path, json.dumps(report, indent=1) + "\n")
    page_dir = root / "deviations"
    page_dir.mkdir(parents=True, exist_ok=True)
    figures: dict[str, bytes] = {}
    if rows and not dplan.parameters:
        figures["gain.png"] = chart_png(rows)
    if dplan.parameters:
        figures["region.png"] = region_png(region, dplan.axes, len(dplan.plan.seeds))
    for name, data in figures.items():
        atomic_write(page_dir / name, data)
    title = f"Does honesty pay? {dplan.plan.spec.name}"
    page = page_html(title, rows, report["not_applicable"], list(figures), region)
    atomic_write(page_dir / "index.html", page)
    return DeviationStatus(
        status, table_path, json_path, page_dir / "index.html", tuple(rows), len(pairs), missing,
        wall_s,
    )  # fmt: skip


def _report(
    dplan: DeviationPlan,
    rows: list[dict[str, Any]],
    region: list[dict[str, Any]],
    status: SweepStatus,
    missing: int,
    wall_s: float,
) -> dict[str, Any]:
    plan = dplan.plan
    report: dict[str, Any] = plain(
        {
            "name": plan.spec.name,
            "scenario": plan.base.name,
            "scenario_hash": plan.base.digest,
            "parameters": list(dplan.parameters),
            "seeds": list(plan.seeds),
            "method": METHOD,
            "level": 0.95,
            "verdicts": rows,
            "region": region,
            "not_applicable": [
                {"point": study.label, "role": s.role, "kind": s.kind, "reason": s.reason}
                for study in dplan.studies
                for s in study.not_applicable
            ],
            "runs": {
                "planned": len(plan.points) * len(plan.seeds),
                "naive": dplan.naive_runs,
                "ran_now": status.done,
                "already_finished": status.skipped,
                "failed": status.failed,
                "missing_pairs": missing,
                "wall_s": wall_s,
            },
        }
    )
    return report


# ---------------------------------------------------------------- what the CLI prints


def describe_plan(dplan: DeviationPlan) -> list[str]:
    """What a study will run, one line per deviation (``--dry-run``)."""
    plan = dplan.plan
    lines = []
    for study in dplan.studies:
        where = f"{study.label}: " if dplan.parameters else ""
        for d, index in study.deviations:
            lines.append(f"{where}{d.label}: hash {plan.points[index].scenario.digest[:10]}")
        for s in study.not_applicable:
            lines.append(f"{where}{s.role}/{s.kind}: not applicable: {s.reason}")
    lines.append(
        f"{len(dplan.deviations)} deviation(s) × {len(plan.seeds)} seed(s): "
        f"{len(plan.points) * len(plan.seeds)} run(s) (naive: {dplan.naive_runs})"
    )
    return lines


def describe_status(dplan: DeviationPlan, status: DeviationStatus, out: Path) -> list[str]:
    """The verdicts, the run count and where the outputs are, one line each."""
    lines = []
    for row in status.rows:
        low, high = row["ci_low"], row["ci_high"]
        ci = "n/a" if low is None else f"[{low:+.4f}, {high:+.4f}]"
        gain = "n/a" if row["gain"] is None else f"{row['gain']:+.4f}"
        size = f" x{row['coalition']}" if row["coalition"] > 1 else ""
        point = ", ".join(f"{k}={v}" for k, v in row["point"].items())
        lines.append(
            f"{point + ': ' if point else ''}{row['role']}/{row['kind']}{size}: gain {gain} "
            f"ether, 95% CI {ci} (n={row['n']}): {row['verdict']}"
        )
    lines.append(
        f"{status.sweep.total} run(s) for {len(dplan.deviations)} deviation(s) "
        f"(naive {dplan.naive_runs}), {status.wall_s:.1f} s. Tables: {status.table}, "
        f"{status.verdicts}; page: {status.page}"
    )
    if status.sweep.failed or status.missing_pairs:
        lines.append(f"{status.sweep.failed} run(s) failed (see {out}/failed/); run again to retry")
    return lines
