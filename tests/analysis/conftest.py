"""Synthetic sweep directories: the files ``baasim sweep`` writes, with known numbers in them."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

Metrics = Callable[[Mapping[str, Any], int], Mapping[str, Any] | None]
"""Summary entries of a run from its point's values and its seed; None: the run failed."""


def make_sweep(
    root: Path,
    axes: Sequence[Sequence[tuple[str, Sequence[Any]]]],
    seeds: Sequence[int],
    metrics: Metrics,
    pending: Sequence[str] = (),
) -> dict[str, Any]:
    """Write a sweep directory: ``axes`` lists each axis's (key, values) (zips have several)."""
    params = [key for axis in axes for key, _ in axis]
    rows = [
        [
            dict(zip((k for k, _ in axis), row, strict=True))
            for row in zip(*(v for _, v in axis), strict=True)
        ]
        for axis in axes
    ]
    points: list[dict[str, Any]] = []
    for i, combo in enumerate(itertools.product(*rows)):
        values: dict[str, Any] = {}
        for part in combo:
            values.update(part)
        label = ", ".join(f"{k}={v}" for k, v in values.items())
        points.append({"point": i, "label": label, "values": values, "scenario_hash": f"{i:064x}"})
    runs: list[dict[str, Any]] = [
        {"run_id": f"syn-{p['point']:010d}-s{s}", "point": p["point"], "seed": s}
        for p in points
        for s in seeds
    ]
    sweep = {
        "format": 1,
        "name": "synthetic",
        "description": "numbers made up for the test",
        "source": "test",
        "definition": 'name = "synthetic"\n',
        "base_scenario": {
            "path": "base.toml",
            "name": "syn",
            "hash": "0" * 64,
            "text": "name = 'syn'\n",
        },
        "set": {},
        "parameters": params,
        "axes": [[{"key": k, "values": list(v)} for k, v in axis] for axis in axes],
        "seeds": list(seeds),
        "points": points,
        "runs": runs,
    }
    root.mkdir(parents=True, exist_ok=True)
    (root / "sweep.json").write_text(json.dumps(sweep))
    (root / "failed").mkdir(exist_ok=True)
    for run in runs:
        if run["run_id"] in pending:
            continue
        summary = metrics(points[run["point"]]["values"], run["seed"])
        if summary is None:
            record = {
                "run_id": run["run_id"],
                "error": "ValueError: made to fail",
                "traceback": "Traceback ...",
            }
            (root / "failed" / f"{run['run_id']}.json").write_text(json.dumps(record))
            continue
        folder = root / "runs" / run["run_id"]
        folder.mkdir(parents=True)
        full = {"run_id": run["run_id"], "seed": run["seed"], "status": "completed", **summary}
        (folder / "summary.json").write_text(json.dumps(full))
        events = pd.DataFrame(
            {"run_id": [run["run_id"]] * 3, "seed": [run["seed"]] * 3, "time": [0.0, 1.0, 2.0]}
        )
        events.to_parquet(folder / "events.parquet", index=False)
    return sweep


@pytest.fixture
def sweep_factory(tmp_path: Path) -> Callable[..., Path]:
    def factory(*args: Any, **kw: Any) -> Path:
        root = tmp_path / "sweep"
        make_sweep(root, *args, **kw)
        return root

    return factory
