"""``baasim tune``: Optuna finds the parameters that best meet objectives under constraints.

A tune file (``scenarios/tune/``) is a search file (``sim.sweep.search``: base scenario,
``[set]``, seeds, ``[[param]]`` ranges) with::

    trials = 40                   # default for --trials
    batch = 2                     # trials run at once (default: enough to fill the workers)
    sampler_seed = 0
    startup_trials = 10           # TPE's random start (single objective)
    level = 0.95                  # confidence level of the constraints' rule "ci"

    [[objective]]                 # one: TPE; two or more: NSGA-II (a Pareto front)
    metric = "initiator_cost_per_accepted_task"
    direction = "minimize"

    [[constraint]]                # a run metric and a bound (in the metric's shown unit)
    metric = "task_success_rate"
    op = ">="
    bound = 0.95
    rule = "ci"                   # the lower 95 % bound must reach 0.95 ("mean": the mean)

    [deviations]                  # no profitable deviation among these kinds
    roles = ["verifier"]
    kinds = ["lazy", "copycat"]

Optuna's ask-and-tell interface drives the loop; no optimiser of our own. A trial is a point
of the study's sweep directory (every run an ordinary run directory; a point asked twice
runs once), run through the sweep executors and caches; with ``[deviations]`` every trial
is a deviation study, and its constraint is that no kind's gain has a confidence interval
above zero. The study is Optuna's journal file (``study.journal``) in the output directory:
Ctrl-C keeps every finished run and trial, and re-running resumes, finishing the trials that
were running (their finished runs are not run again). Objective values are means over seeds,
in each metric's shown unit (ether for wei).

A batch of trials is asked at once (TPE's constant liar keeps a batch's trials apart: the
running ones count as bad results) and runs as one sweep round on workers kept for the whole
study (``sim.sweep.execute.kept``), so trials run in parallel and no batch pays a worker's
start. ``trials.parquet`` is rewritten after every batch; ``tune.json``, the fANOVA
importances, the deviation page and the report (``report/index.html``, drawn by
``analysis.search``) once, when the study stops (finished or interrupted).
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from analysis.runs import runs_table
from analysis.search import tune_page
from sim.config import build
from sim.errors import ConfigError
from sim.paths import atomic_path, atomic_write
from sim.scenario import Scenario, with_values
from sim.sweep.execute import Executor, SweepStatus, kept, run_sweep
from sim.sweep.plan import plain
from sim.sweep.search import (
    Param,
    Points,
    Target,
    check_params,
    integer,
    parse_targets,
    point_values,
    points_plan,
    read_search,
    seeds_of,
    shown,
    statistic,
    violation,
)
from sim.sweep.spec import DeviationsSpec

TOP = (
    "name", "description", "scenario", "seeds", "set", "param", "objective", "constraint",
    "deviations", "trials", "batch", "sampler_seed", "startup_trials", "level",
)  # fmt: skip


@dataclass(frozen=True)
class TuneSpec:
    """A tune file, checked."""

    name: str
    source: str
    scenario: str
    base: Scenario
    seeds: tuple[int, ...]
    fixed: Mapping[str, Any]
    params: tuple[Param, ...]
    objectives: tuple[Target, ...]
    constraints: tuple[Target, ...]
    deviations: DeviationsSpec | None
    trials: int
    batch: int | None
    sampler_seed: int
    startup_trials: int
    level: float
    description: str = ""
    text: str = ""
    """The file as written (its digest guards a study directory against another file)."""

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(p.key for p in self.params)

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.text.encode()).hexdigest()


def load_tune(path: str) -> TuneSpec:
    """Read and check a tune file: every key, range and metric (ConfigError naming them)."""
    table, fixed, base, params = read_search(path, TOP)
    check_params(base, params, path)
    objectives = parse_targets(table.get("objective"), path, "objective", False)
    if not objectives:
        raise ConfigError(f"{path}: objective: expected one or more [[objective]] tables")
    deviations = None
    if "deviations" in table:
        deviations = build(DeviationsSpec, table["deviations"], where=path, path="deviations")
    return TuneSpec(
        name=str(table["name"]),
        source=path,
        scenario=table["scenario"],
        base=base,
        seeds=seeds_of(table, base, path),
        fixed=fixed,
        params=params,
        objectives=objectives,
        constraints=parse_targets(table.get("constraint"), path, "constraint", True),
        deviations=deviations,
        trials=integer(table, "trials", 20, path),
        batch=integer(table, "batch", None, path),
        sampler_seed=integer(table, "sampler_seed", 0, path, low=0),
        startup_trials=integer(table, "startup_trials", 10, path),
        level=_level(table, path),
        description=str(table.get("description", "")),
        text=Path(path).read_text(),
    )


def _level(table: Mapping[str, Any], where: str) -> float:
    level = table.get("level", 0.95)
    if isinstance(level, bool) or not isinstance(level, (int, float)) or not 0 < level < 1:
        raise ConfigError(f"{where}: level: expected a fraction in (0, 1), got {level!r}")
    return float(level)


# ---------------------------------------------------------------- the study


@dataclass(frozen=True)
class TuneStatus:
    """What one ``run_tune`` call did."""

    out: Path
    trials: int
    """Trials in the study (complete or failed)."""
    ran: int
    """Trials finished by this call."""
    failed_runs: int
    best: tuple[dict[str, Any], ...]
    """The best feasible trial (single objective) or the feasible Pareto front."""
    page: Path


def run_tune(
    spec: TuneSpec,
    out: str | Path,
    executor: Executor,
    *,
    trials: int | None = None,
    threads: int | None = None,
    progress: bool = True,
    echo: Callable[[str], None] = print,
) -> TuneStatus:
    """Run the study in ``out`` until it holds ``trials`` finished trials; resumable."""
    optuna = _optuna()
    root = Path(out)
    root.mkdir(parents=True, exist_ok=True)
    _guard(spec, root)
    study = _study(optuna, spec, root)
    target = trials or spec.trials
    batch = spec.batch or max(1, math.ceil(executor.workers / len(spec.seeds)))  # type: ignore[attr-defined]
    ran = failed_runs = 0
    last: _Round | None = None  # the latest batch: the deviation page is drawn from it
    try:
        with kept(executor):
            while True:
                pending = _running(optuna, study)
                if not pending:
                    left = target - len(study.trials)
                    if left <= 0:
                        break
                    asked = min(batch, left)
                    pending = [study.ask(_distributions(optuna, spec)) for _ in range(asked)]
                echo(f"tune {spec.name}: trials {', '.join(str(t.number) for t in pending)}")
                done = _run_batch(
                    optuna, spec, study, pending, root, executor, threads, progress, echo
                )
                failed_runs += done.failed
                last = done
                ran += len(pending)
                _write_trials(trials_frame(optuna, spec, study), root)
    finally:  # the page once, also when interrupted (Ctrl-C keeps every told trial)
        if last is not None and last.deviations is not None:
            from sim.sweep.deviations import write_deviations

            dplan, status = last.deviations
            write_deviations(dplan, root, status, status.wall_s)
        written = _write(optuna, spec, study, root, ran, failed_runs)
    return written


def _optuna() -> Any:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna


def _guard(spec: TuneSpec, root: Path) -> None:
    """Refuse a directory holding a study of another tune file (its trials would mix)."""
    path = root / "tune.json"
    if path.is_file():
        held = json.loads(path.read_text()).get("definition_sha256")
        if held and held != spec.digest:
            raise ConfigError(
                f"--out {root}: holds a study of a different tune file; give another --out "
                "(or restore the file the study was started with)"
            )


def _study(optuna: Any, spec: TuneSpec, root: Path) -> Any:
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    storage = JournalStorage(JournalFileBackend(str(root / "study.journal")))
    directions = [o.direction for o in spec.objectives]
    # constraints reach the samplers through Trial.set_constraint (Optuna 5; _tell)
    if len(directions) == 1:
        # constant liar: a trial asked while others of its batch run is kept away from them
        # (no effect on a batch of one: no trial is running when it is asked)
        sampler = optuna.samplers.TPESampler(
            seed=spec.sampler_seed, n_startup_trials=spec.startup_trials, constant_liar=True
        )
    else:
        sampler = optuna.samplers.NSGAIISampler(seed=spec.sampler_seed)
    return optuna.create_study(
        study_name=spec.name,
        storage=storage,
        load_if_exists=True,
        directions=directions,
        sampler=sampler,
    )


def _distributions(optuna: Any, spec: TuneSpec) -> dict[str, Any]:
    d = optuna.distributions
    out: dict[str, Any] = {}
    for p in spec.params:
        if p.choices is not None:
            out[p.key] = d.CategoricalDistribution(list(p.choices))
        elif p.type == "int":
            step = max(1, int(p.step or 1))
            out[p.key] = d.IntDistribution(int(p.low or 0), int(p.high or 0), log=p.log, step=step)
        else:
            out[p.key] = d.FloatDistribution(p.low, p.high, log=p.log, step=p.step)
    return out


def _running(optuna: Any, study: Any) -> list[Any]:
    """Trials a previous, interrupted call left running: they are finished first."""
    running = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,))
    return [optuna.trial.Trial(study, t._trial_id) for t in running]


# ---------------------------------------------------------------- one batch of trials


@dataclass(frozen=True)
class _Round:
    """What one batch ran: its failed runs and (with ``[deviations]``) the deviation plan
    and sweep status the study's deviation page is drawn from when it stops."""

    failed: int
    deviations: tuple[Any, SweepStatus] | None = None


def _run_batch(
    optuna: Any,
    spec: TuneSpec,
    study: Any,
    pending: Sequence[Any],
    root: Path,
    executor: Executor,
    threads: int | None,
    progress: bool,
    echo: Callable[[str], None],
) -> _Round:
    """Run the pending trials' points (with every earlier point in the plan), tell Optuna."""
    valid = []
    for trial in pending:
        values = _values(spec, trial.params)
        try:
            scenario = with_values(spec.base, values, where=f"{spec.source}: trial {trial.number}")
        except ConfigError as err:
            trial.set_user_attr("error", str(err))
            study.tell(trial, state=optuna.trial.TrialState.FAIL)
            continue
        valid.append((trial, values, scenario))
    if not valid:
        return _Round(0)
    rows = [_values(spec, t.params) for t in _with_points(optuna, study)]
    rows += [v for _, v, _ in valid]
    sweep, points = points_plan(
        spec.name, spec.source, spec.scenario, spec.fixed, spec.base, spec.seeds, spec.keys,
        rows, spec.deviations,
    )  # fmt: skip
    gains, done = _execute(spec, sweep, points, root, executor, threads, progress, echo)
    runs = runs_table(root)
    for trial, values, scenario in valid:
        _tell(optuna, spec, study, trial, values, scenario, runs, gains)
    return done


def _values(spec: TuneSpec, params: Mapping[str, Any]) -> dict[str, Any]:
    return {k: params[k] for k in spec.keys}


def _with_points(optuna: Any, study: Any) -> list[Any]:
    """Earlier trials whose point is in the plan (so the sweep directory lists every run)."""
    states = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.FAIL)
    return [t for t in study.get_trials(deepcopy=False, states=states) if "point" in t.user_attrs]


def _execute(
    spec: TuneSpec,
    sweep: Any,
    points: Points,
    root: Path,
    executor: Executor,
    threads: int | None,
    progress: bool,
    echo: Callable[[str], None],
) -> tuple[dict[str, float], _Round]:
    """Run the plan; with ``[deviations]`` every point is a deviation study. The largest
    deviation gain's confidence bound per point (scenario digest; gains are in ether), and
    what the round ran. The deviation verdicts are computed here; their page is drawn once,
    when the study stops (``run_tune``)."""
    if spec.deviations is None:
        status = run_sweep(
            points.plan, root, executor, threads=threads, progress=progress, echo=echo
        )
        return {}, _Round(status.failed)
    from analysis.deviations import pairs_table, verdicts
    from sim.sweep.deviations import build_region_plan, load_pairs

    dplan = build_region_plan(sweep)
    for skipped in dplan.not_applicable:
        echo(f"not applicable: {skipped.role}/{skipped.kind}: {skipped.reason}")
    status = run_sweep(dplan.plan, root, executor, threads=threads, progress=progress, echo=echo)
    pairs, _, _ = load_pairs(dplan, root)
    found = verdicts(pairs_table(pairs, dplan.parameters), dplan.parameters)
    gains: dict[str, float] = {}
    for s in dplan.studies:
        digest = dplan.plan.points[s.base].scenario.digest
        rows = [r for r in found if all(r["point"].get(k) == v for k, v in s.values.items())]
        gains[digest] = max((_gain_bound(r) for r in rows), default=-math.inf)
    return gains, _Round(status.failed, (dplan, status))


def _gain_bound(row: Mapping[str, Any]) -> float:
    """A deviation's gain as the constraint reads it (ether): the interval's lower end
    ("profitable" when above 0), or the mean when there is no interval (one seed)."""
    low = row.get("ci_low")
    value = low if low is not None else row.get("gain")
    return math.inf if value is None else float(value)


def _tell(
    optuna: Any,
    spec: TuneSpec,
    study: Any,
    trial: Any,
    values: Mapping[str, Any],
    scenario: Scenario,
    runs: pd.DataFrame,
    gains: Mapping[str, float],
) -> None:
    metrics = sorted({t.metric for t in (*spec.objectives, *spec.constraints)})
    got = point_values(runs, scenario, spec.seeds, metrics)
    summary = {m: _stats(spec, m, v) for m, v in got.items()}
    constraints = [violation(c, got[c.metric], spec.level) for c in spec.constraints]
    if spec.deviations is not None:
        constraints.append(gains.get(scenario.digest, math.inf))
    objectives = [
        shown(o.metric, statistic(got[o.metric], "mean", "", o.metric, spec.level))
        for o in spec.objectives
    ]
    trial.set_user_attr("point", scenario.digest)
    trial.set_user_attr("metrics", plain(summary))
    trial.set_user_attr("constraints", [_finite(c) for c in constraints])
    for i, c in enumerate(constraints):
        trial.set_constraint(f"c{i}", _finite(c))
    trial.set_user_attr("runs", len(next(iter(got.values()), [])))
    if not all(math.isfinite(v) for v in objectives):
        trial.set_user_attr("error", "an objective is undefined (no finished run, or NaN)")
        study.tell(trial, state=optuna.trial.TrialState.FAIL)
        return
    study.tell(trial, objectives)


def _finite(x: float) -> float:
    """Optuna's constraint values must be finite: "cannot be judged" is a large violation."""
    return x if math.isfinite(x) else 1e12


def _stats(spec: TuneSpec, metric: str, values: Sequence[float]) -> dict[str, Any]:
    return {
        "mean": shown(metric, statistic(values, "mean", "", metric, spec.level)),
        "ci_low": shown(metric, statistic(values, "ci", "low", metric, spec.level)),
        "ci_high": shown(metric, statistic(values, "ci", "high", metric, spec.level)),
        "n": sum(math.isfinite(v) for v in values),
    }


# ---------------------------------------------------------------- tables and the page


def trials_frame(optuna: Any, spec: TuneSpec, study: Any) -> pd.DataFrame:
    """One row per trial: number, state, parameters, objectives, constraint violations,
    feasibility, each metric's mean and interval, and why a trial failed."""
    rows = []
    for t in study.get_trials(deepcopy=False):
        row: dict[str, Any] = {"trial": t.number, "state": t.state.name}
        row.update({k: t.params.get(k) for k in spec.keys})
        for i, o in enumerate(spec.objectives):
            row[f"objective.{o.metric}"] = t.values[i] if t.values else math.nan
        cons = t.user_attrs.get("constraints", [])
        for i, c in enumerate(cons):
            row[f"violation.{i}"] = c
        row["feasible"] = t.state.name == "COMPLETE" and all(c <= 0 for c in cons)
        for m, s in t.user_attrs.get("metrics", {}).items():
            for k in ("mean", "ci_low", "ci_high"):
                row[f"{m}.{k}"] = s.get(k)
        row["error"] = t.user_attrs.get("error", "")
        rows.append(row)
    return pd.DataFrame(rows)


def _importances(optuna: Any, spec: TuneSpec, study: Any) -> dict[str, dict[str, float]]:
    """fANOVA importances per objective; empty when too few complete trials."""
    from optuna.importance import FanovaImportanceEvaluator, get_param_importances

    done = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    if len(done) < 2 or len(spec.params) < 1:
        return {}
    out = {}
    for i, o in enumerate(spec.objectives):
        try:
            got = get_param_importances(
                study,
                evaluator=FanovaImportanceEvaluator(seed=spec.sampler_seed),
                target=_objective(i),
            )
        except (RuntimeError, ValueError):
            continue
        out[o.metric] = {k: float(v) for k, v in got.items()}
    return out


def _objective(i: int) -> Callable[[Any], float]:
    def value(trial: Any) -> float:
        return float(trial.values[i])

    return value


def _write_trials(frame: pd.DataFrame, root: Path) -> None:
    with atomic_path(root / "trials.parquet") as tmp:
        frame.to_parquet(tmp, index=False)


def _write(
    optuna: Any, spec: TuneSpec, study: Any, root: Path, ran: int = 0, failed_runs: int = 0
) -> TuneStatus:
    frame = trials_frame(optuna, spec, study)
    _write_trials(frame, root)
    importances = _importances(optuna, spec, study)
    page = tune_page(
        name=spec.name,
        description=spec.description,
        definition=spec.text,
        trials=frame,
        params=list(spec.keys),
        objectives=[(o.metric, o.direction) for o in spec.objectives],
        constraints=[c.label for c in spec.constraints]
        + (
            ["no profitable deviation (largest gain's lower 95 % bound <= 0 ether)"]
            if spec.deviations
            else []
        ),
        importances=importances,
        level=spec.level,
    )
    report = root / "report"
    report.mkdir(exist_ok=True)
    for name, data in page.figures.items():
        atomic_write(report / name, data)
    atomic_write(report / "index.html", page.html)
    best = tuple(page.best)
    record = {
        "name": spec.name,
        "definition_sha256": spec.digest,
        "source": spec.source,
        "trials": len(frame),
        "objectives": [[o.metric, o.direction] for o in spec.objectives],
        "best": list(best),
        "importances": importances,
    }
    atomic_write(root / "tune.json", json.dumps(plain(record), indent=1, default=str) + "\n")
    return TuneStatus(root, len(frame), ran, failed_runs, best, report / "index.html")
