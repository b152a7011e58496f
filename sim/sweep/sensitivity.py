"""``baasim sensitivity``: which parameters explain a run metric's variance (SALib).

A sensitivity file (``scenarios/sensitivity/``) is a search file (``sim.sweep.search``: base
scenario, ``[set]``, seeds, numeric ``[[param]]`` ranges) with::

    method = "sobol"          # or "morris"
    samples = 16              # sobol: N base samples (a power of 2); morris: trajectories
    levels = 4                # morris: grid levels
    sampler_seed = 0
    outputs = ["net_profit_by_behaviour.verifier.honest", "wrong_outcome_rate"]

SALib draws the sample (Saltelli's extension of Sobol' sequences, N × (D + 2) rows; or N
Morris trajectories, N × (D + 1) rows) and computes the indices (``SALib.analyze.sobol``:
first- and total-order with bootstrap confidence intervals; ``SALib.analyze.morris``: μ*,
its interval, σ); nothing here samples or estimates by itself. Each sample row is a point
of one ordinary sweep directory (rows that give the same scenario, e.g. after rounding an
integer parameter, run once), run with the sweep executors and caches, so re-running resumes.
An output's value at a row is its mean over the seeds. Writes ``sensitivity.json``,
``indices.parquet`` and ``report/index.html`` (``analysis.search``).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from analysis.runs import runs_table
from analysis.search import sensitivity_page
from sim.errors import ConfigError
from sim.paths import atomic_path, atomic_write
from sim.scenario import Scenario, with_values
from sim.sweep.execute import Executor, run_sweep
from sim.sweep.plan import plain
from sim.sweep.search import (
    Param,
    check_metric,
    check_params,
    integer,
    point_values,
    points_plan,
    read_search,
    seeds_of,
    shown,
)

TOP = (
    "name", "description", "scenario", "seeds", "set", "param", "outputs", "method",
    "samples", "levels", "sampler_seed",
)  # fmt: skip
LEVEL = 0.95


@dataclass(frozen=True)
class SensitivitySpec:
    """A sensitivity file, checked."""

    name: str
    source: str
    scenario: str
    base: Scenario
    seeds: tuple[int, ...]
    fixed: Mapping[str, Any]
    params: tuple[Param, ...]
    outputs: tuple[str, ...]
    method: str
    samples: int
    levels: int
    sampler_seed: int
    description: str = ""
    text: str = ""

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(p.key for p in self.params)

    def problem(self) -> dict[str, Any]:
        """SALib's problem: log parameters are sampled as their logarithm."""
        bounds = [
            [math.log(p.low or 1), math.log(p.high or 1)] if p.log else [p.low, p.high]
            for p in self.params
        ]
        return {"num_vars": len(self.params), "names": list(self.keys), "bounds": bounds}


def load_sensitivity(path: str) -> SensitivitySpec:
    """Read and check a sensitivity file (ConfigError naming the file and key)."""
    table, fixed, base, params = read_search(path, TOP)
    for i, p in enumerate(params):
        if p.categorical or p.step is not None:
            raise ConfigError(
                f"{path}: param[{i}] ({p.key}): sensitivity takes numeric ranges "
                "(low, high, type, log), not choices or step"
            )
    check_params(base, params, path)
    outputs = table.get("outputs")
    if not isinstance(outputs, list) or not outputs or not all(isinstance(o, str) for o in outputs):
        raise ConfigError(f"{path}: outputs: expected a list of run metric names")
    for i, o in enumerate(outputs):
        check_metric(o, path, f"outputs[{i}]")
    method = table.get("method", "sobol")
    if method not in ("sobol", "morris"):
        raise ConfigError(f"{path}: method: expected 'sobol' or 'morris', got {method!r}")
    samples = integer(table, "samples", 16, path, 2)
    if method == "sobol" and samples & (samples - 1):
        raise ConfigError(
            f"{path}: samples: Saltelli sampling takes a power of 2 (8, 16, 32, …), got {samples}"
        )
    return SensitivitySpec(
        name=str(table["name"]),
        source=path,
        scenario=table["scenario"],
        base=base,
        seeds=seeds_of(table, base, path),
        fixed=fixed,
        params=params,
        outputs=tuple(outputs),
        method=method,
        samples=samples,
        levels=integer(table, "levels", 4, path, 2),
        sampler_seed=integer(table, "sampler_seed", 0, path, 0),
        description=str(table.get("description", "")),
        text=Path(path).read_text(),
    )


# ---------------------------------------------------------------- sampling and running


def sample(spec: SensitivitySpec) -> np.ndarray:
    """SALib's sample matrix (one row per sample; log parameters as logarithms)."""
    if spec.method == "sobol":
        from SALib.sample import sobol  # type: ignore[import-untyped]

        return np.asarray(
            sobol.sample(
                spec.problem(), spec.samples, calc_second_order=False, seed=spec.sampler_seed
            )
        )
    from SALib.sample import morris  # type: ignore[import-untyped]

    return np.asarray(
        morris.sample(spec.problem(), spec.samples, num_levels=spec.levels, seed=spec.sampler_seed)
    )


def row_values(spec: SensitivitySpec, row: np.ndarray) -> dict[str, Any]:
    """One sample row as scenario values (log parameters exponentiated, ints rounded)."""
    return {
        p.key: p.value(math.exp(x) if p.log else float(x))
        for p, x in zip(spec.params, row, strict=True)
    }


@dataclass(frozen=True)
class SensitivityStatus:
    out: Path
    samples: int
    runs: int
    failed: int
    indices: pd.DataFrame
    notes: dict[str, str]
    page: Path


def run_sensitivity(
    spec: SensitivitySpec,
    out: str | Path,
    executor: Executor,
    *,
    threads: int | None = None,
    progress: bool = True,
    echo: Callable[[str], None] = print,
) -> SensitivityStatus:
    """Run every sample's runs (resuming), then compute and write the indices and page."""
    root = Path(out)
    x = sample(spec)
    rows = [row_values(spec, r) for r in x]
    _, points = points_plan(
        spec.name, spec.source, spec.scenario, spec.fixed, spec.base, spec.seeds, spec.keys, rows
    )
    echo(
        f"sensitivity {spec.name}: {spec.method}, {len(rows)} sample(s) -> "
        f"{len(points.plan.points)} distinct point(s) × {len(spec.seeds)} seed(s)"
    )
    status = run_sweep(points.plan, root, executor, threads=threads, progress=progress, echo=echo)
    if status.failed:
        raise ConfigError(
            f"{status.failed} run(s) failed (tracebacks in {root}/failed/): the indices need "
            "every sample; run the same command again to retry them"
        )
    runs = runs_table(root)
    scenarios = [with_values(spec.base, r, where=spec.source) for r in rows]
    y = {o: np.array([_mean(runs, s, spec, o) for s in scenarios]) for o in spec.outputs}
    indices, notes = analyse(spec, x, y)
    return _write(spec, root, indices, notes, len(rows), len(points.plan.points) * len(spec.seeds))


def _mean(runs: pd.DataFrame, scenario: Scenario, spec: SensitivitySpec, output: str) -> float:
    values = [
        v for v in point_values(runs, scenario, spec.seeds, [output])[output] if math.isfinite(v)
    ]
    return shown(output, float(np.mean(values))) if values else math.nan


def analyse(
    spec: SensitivitySpec, x: np.ndarray, y: Mapping[str, np.ndarray]
) -> tuple[pd.DataFrame, dict[str, str]]:
    """The indices per output (SALib), and a note for each output that has none (undefined
    values, or no variance to attribute)."""
    frames = []
    notes: dict[str, str] = {}
    for output, values in y.items():
        if not np.all(np.isfinite(values)):
            bad = int((~np.isfinite(values)).sum())
            notes[output] = f"undefined (NaN) at {bad} of {len(values)} sample(s): no indices"
            continue
        if float(np.ptp(values)) == 0.0:
            notes[output] = (
                f"constant ({values[0]:.6g}) over the whole sample: no parameter changes it, "
                "there is no variance to attribute"
            )
            continue
        frames.append(_indices(spec, x, values).assign(output=output))
    columns = ["output", "parameter"]
    indices = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns)
    return indices[columns + [c for c in indices.columns if c not in columns]], notes


def _indices(spec: SensitivitySpec, x: np.ndarray, y: np.ndarray) -> pd.DataFrame:
    problem = spec.problem()
    if spec.method == "sobol":
        from SALib.analyze import sobol  # type: ignore[import-untyped]

        got = sobol.analyze(
            problem, y, calc_second_order=False, conf_level=LEVEL, seed=spec.sampler_seed
        )
        keys = ("S1", "S1_conf", "ST", "ST_conf")
    else:
        from SALib.analyze import morris  # type: ignore[import-untyped]

        got = morris.analyze(
            problem, x, y, conf_level=LEVEL, num_levels=spec.levels, seed=spec.sampler_seed
        )
        keys = ("mu", "mu_star", "sigma", "mu_star_conf")
    table = {"parameter": list(spec.keys)} | {k: np.asarray(got[k], dtype=float) for k in keys}
    return pd.DataFrame(table)


def _write(
    spec: SensitivitySpec,
    root: Path,
    indices: pd.DataFrame,
    notes: dict[str, str],
    samples: int,
    runs: int,
) -> SensitivityStatus:
    with atomic_path(root / "indices.parquet") as tmp:
        indices.to_parquet(tmp, index=False)
    page = sensitivity_page(
        name=spec.name,
        description=spec.description,
        definition=spec.text,
        method=spec.method,
        indices=indices,
        notes=notes,
        samples=samples,
        runs=runs,
        level=LEVEL,
    )
    report = root / "report"
    report.mkdir(exist_ok=True)
    for name, data in page.figures.items():
        atomic_write(report / name, data)
    atomic_write(report / "index.html", page.html)
    record = {
        "name": spec.name,
        "method": spec.method,
        "samples": samples,
        "runs": runs,
        "level": LEVEL,
        "indices": indices.to_dict("records"),
        "notes": notes,
    }
    atomic_write(root / "sensitivity.json", json.dumps(plain(record), indent=1) + "\n")
    return SensitivityStatus(root, samples, runs, 0, indices, notes, report / "index.html")
