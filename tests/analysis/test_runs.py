"""Run tables: summaries flattened into rows, events concatenated, read with pandas alone."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from analysis.runs import (
    ResultsError,
    axes_of,
    flatten_summary,
    metric_columns,
    read_sweep,
    runs_table,
)
from sim.sweep.tables import write_tables


def test_flattening_keeps_numbers_joins_nested_names_and_drops_the_rest() -> None:
    summary = {
        "run_id": "r",
        "scenario": "tiny",
        "scenario_hash": "abc",
        "seed": 3,
        "status": "completed",
        "fused_accuracy": 0.8,
        "tasks": 2,
        "time_to_payout": None,
        "ok": True,
        "burned_fees_wei": 10**21,  # beyond int64: stored as a float
        "net_profit_by_behaviour": {"verifier": {"honest": 5, "lazy": -2}},
        "task_outcomes": [{"task": 1}],
        "agents": {"verifier-0": {"role": "verifier", "profit_wei": 3 * 10**18}},
    }
    flat = flatten_summary(summary)
    assert math.isnan(flat.pop("time_to_payout"))
    assert flat == {
        "fused_accuracy": 0.8,
        "tasks": 2.0,
        "ok": 1.0,
        "burned_fees_wei": 1e21,
        "net_profit_by_behaviour.verifier.honest": 5.0,
        "net_profit_by_behaviour.verifier.lazy": -2.0,
    }


def accuracy_by_stake(values: dict[str, Any], seed: int) -> dict[str, Any] | None:
    if values["stake"] == 2.0 and seed == 1:
        return None  # this run failed
    return {"fused_accuracy": 0.5 + 0.1 * seed, "tasks": 1, "scenario": "syn"}


def test_the_runs_table_has_one_row_per_run_of_the_plan(sweep_factory: Callable[..., Path]) -> None:
    root = sweep_factory(
        [[("stake", [1.0, 2.0])], [("n", [2, 3]), ("m", ["a", "b"])]],
        [0, 1],
        accuracy_by_stake,
        pending=["syn-0000000000-s1"],
    )
    runs = runs_table(root)
    assert list(runs.columns) == [
        "point",
        "run_id",
        "seed",
        "stake",
        "n",
        "m",
        "status",
        "error",
        "fused_accuracy",
        "tasks",
    ]
    assert len(runs) == 8
    assert runs["run_id"].is_unique
    status = runs.set_index("run_id")["status"]
    assert status["syn-0000000000-s1"] == "pending"
    assert status["syn-0000000002-s1"] == "failed"
    assert status["syn-0000000000-s0"] == "completed"
    failed = runs[runs["status"] == "failed"]
    assert list(failed["error"]) == ["ValueError: made to fail"] * 2
    assert failed["fused_accuracy"].isna().all()
    assert list(runs[runs["point"] == 3]["m"]) == ["b", "b"]
    assert metric_columns(runs, ["stake", "n", "m"]) == ["fused_accuracy", "tasks"]
    assert axes_of(read_sweep(root)) == [["stake"], ["n", "m"]]


def test_tables_are_written_for_pandas_alone(sweep_factory: Callable[..., Path]) -> None:
    root = sweep_factory([[("stake", [1.0, 2.0])]], [0, 1], accuracy_by_stake)
    runs_path, events_path = write_tables(root)
    assert runs_path == root / "runs.parquet"
    runs = pd.read_parquet(runs_path)
    pd.testing.assert_frame_equal(runs, runs_table(root))
    assert events_path is not None
    events = pd.read_parquet(events_path)
    finished = runs[runs["status"] == "completed"]["run_id"]
    assert list(events["run_id"].unique()) == list(finished)
    assert len(events) == 3 * len(finished)
    assert not list(root.glob(".tmp-*"))


def test_events_with_different_columns_are_concatenated_under_one_schema(
    sweep_factory: Callable[..., Path],
) -> None:
    root = sweep_factory([[("stake", [1.0, 2.0])]], [0], accuracy_by_stake)
    newer = root / "runs" / "syn-0000000001-s0" / "events.parquet"
    frame = pd.read_parquet(newer).assign(extra=["x", "y", "z"])
    frame.to_parquet(newer, index=False)
    write_tables(root)
    events = pd.read_parquet(root / "events.parquet")
    assert events["extra"].isna().sum() == 3
    assert list(events["extra"].dropna()) == ["x", "y", "z"]


def test_a_directory_without_a_plan_is_named(tmp_path: Path) -> None:
    with pytest.raises(ResultsError, match="not a sweep directory"):
        runs_table(tmp_path)
    (tmp_path / "sweep.json").write_text(json.dumps({"points": []}))
    with pytest.raises(ResultsError, match="missing key 'parameters'"):
        read_sweep(tmp_path)


def test_a_parameter_mixing_numbers_and_words_is_written_as_words(
    sweep_factory: Callable[..., Path],
) -> None:
    root = sweep_factory([[("x", [1, "auto", 2.5])]], [0], lambda v, s: {"acc": 0.5})
    write_tables(root)
    assert list(pd.read_parquet(root / "runs.parquet")["x"]) == ["1", "auto", "2.5"]
