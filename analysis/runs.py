"""Tables of a sweep's runs, read from its directory with pandas and pyarrow alone.

``runs_table(DIR)`` gives one row per run of the sweep's plan (``DIR/sweep.json``): the
point, run id and seed, the point's parameter values (one column per varied key path), the
run's status (``completed``, ``timed_out``, ``failed`` or ``pending``), the error of a failed
run, and every numeric metric of its ``summary.json`` flattened to one column each: scalars
keep their name, nested tables are joined with dots (``net_profit_by_behaviour.verifier.lazy``),
per-agent entries (``agents``) and lists (``task_outcomes``) are left out. Metrics are floats
(wei sums do not fit int64; the exact values stay in each run's files). ``sim.sweep.tables``
writes that table to ``DIR/runs.parquet`` (analysis reads, it never writes).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

IDENTITY = ("point", "run_id", "seed")
STATUS = ("status", "error")
FINISHED = ("completed", "timed_out")
"""Statuses of runs that produced a summary (a timed-out run is a result, not a failure)."""
NOT_METRICS = frozenset({"run_id", "scenario", "scenario_hash", "seed", "status"})


class ResultsError(ValueError):
    """A sweep directory is missing or malformed; the message names the file."""


def read_sweep(root: str | Path) -> dict[str, Any]:
    """The plan of the sweep in ``root`` (``sweep.json``, written before any run starts)."""
    path = Path(root) / "sweep.json"
    try:
        sweep: dict[str, Any] = json.loads(path.read_text())
    except FileNotFoundError:
        raise ResultsError(f"{root}: not a sweep directory (no sweep.json)") from None
    except (OSError, ValueError) as err:
        raise ResultsError(f"{path}: cannot read: {err}") from err
    for key in ("parameters", "points", "runs"):
        if key not in sweep:
            raise ResultsError(f"{path}: missing key {key!r}")
    return sweep


def axes_of(sweep: Mapping[str, Any]) -> list[list[str]]:
    """The key paths of each axis of a sweep (a zipped group has several)."""
    if "axes" in sweep:
        return [[str(p["key"]) for p in axis] for axis in sweep["axes"]]
    return [[str(k)] for k in sweep["parameters"]]


def flatten_summary(summary: Mapping[str, Any]) -> dict[str, float]:
    """Every numeric metric of one run's summary, one float per (dotted) name."""
    out: dict[str, float] = {}
    for key, value in summary.items():
        if key not in NOT_METRICS and key != "agents":
            _flatten(key, value, out)
    return out


def _flatten(name: str, value: Any, out: dict[str, float]) -> None:
    if value is None:
        out[name] = math.nan
    elif isinstance(value, (bool, int, float)):
        out[name] = float(value)
    elif isinstance(value, Mapping):
        for k, v in value.items():
            _flatten(f"{name}.{k}", v, out)
    # strings and lists (task_outcomes) are not metrics


def runs_table(root: str | Path) -> pd.DataFrame:
    """One row per run of the sweep in ``root`` (see the module docstring for the columns)."""
    root = Path(root)
    sweep = read_sweep(root)
    params: list[str] = list(sweep["parameters"])
    values = {p["point"]: p["values"] for p in sweep["points"]}
    rows = []
    for run in sweep["runs"]:
        row: dict[str, Any] = {k: run[k] for k in IDENTITY}
        row.update({k: cell(values[run["point"]].get(k)) for k in params})
        row.update(_status(root, run["run_id"]))
        rows.append(row)
    columns = [*IDENTITY, *params, *STATUS]
    table = pd.DataFrame(rows)
    if table.empty:
        return pd.DataFrame(columns=columns)
    for p in params:  # a column mixing numbers and words is written as words
        kinds = {type(v) for v in table[p]}
        if str in kinds and len(kinds) > 1:
            table[p] = [v if isinstance(v, str) else json.dumps(v) for v in table[p]]
    metrics = [c for c in table.columns if c not in columns]
    return table[columns + metrics]


def _status(root: Path, run_id: str) -> dict[str, Any]:
    summary = root / "runs" / run_id / "summary.json"
    if summary.is_file():
        s = json.loads(summary.read_text())
        return {"status": s.get("status", "completed"), "error": None} | flatten_summary(s)
    failed = root / "failed" / f"{run_id}.json"
    if failed.is_file():
        return {"status": "failed", "error": json.loads(failed.read_text()).get("error", "")}
    return {"status": "pending", "error": None}


def cell(value: Any) -> Any:
    """A parameter value as a table cell: scalars as they are, tables and lists as JSON."""
    if isinstance(value, (Mapping, list, tuple)):
        return json.dumps(value, sort_keys=True)
    return value


def metric_columns(runs: pd.DataFrame, parameters: Sequence[str]) -> list[str]:
    """The metric columns of a runs table (everything numeric that is not identity/parameter)."""
    skip = {*IDENTITY, *parameters, *STATUS}
    return [
        c for c in runs.columns if c not in skip and pd.api.types.is_numeric_dtype(runs[c].dtype)
    ]
