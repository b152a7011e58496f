"""Sweeps on Dask: a real scheduler and real worker processes on loopback."""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from sim.cli import main
from sim.cli.sweep import make_executor
from sim.errors import ConfigError
from sim.sweep import DaskExecutor, SweepDir, build_plan, run_sweep, spec_from_table
from sim.sweep.cluster import dask_client

TINY = Path(__file__).resolve().parents[1] / "data" / "tiny.toml"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def scheduler() -> Iterator[str]:
    """The address of a LocalCluster: 2 worker processes, one thread each, on 127.0.0.1
    (started as ``--scheduler local`` starts one, which leaves this process's environment
    as it was)."""
    with contextlib.ExitStack() as stack:
        yield dask_client(None, 2, stack).scheduler.address


def test_runs_go_to_an_existing_scheduler_and_come_back_whole(
    tmp_path: Path, scheduler: str
) -> None:
    assert scheduler.startswith("tcp://127.0.0.1:")
    table = {
        "name": "dask",
        "scenario": str(TINY),
        "seeds": [0, 1],
        "vary": [
            {"key": "tasks[0].verifier_stake_ether", "values": [0.5, 2.0]},
            {"key": "storage.backend", "values": ["embedded", "ipfs"]},
        ],
        "set": {"storage.api": "/ip4/127.0.0.1/tcp/9/http", "storage.retries": 0},
    }
    plan = build_plan(spec_from_table(table, "dask.toml"))
    status = run_sweep(plan, tmp_path, DaskExecutor(scheduler), threads=1, progress=False)
    assert (status.total, status.done, status.failed) == (8, 4, 4)
    runs = pd.read_parquet(tmp_path / "runs.parquet")
    assert runs["run_id"].is_unique
    ok = runs[runs["status"] == "completed"]
    assert set(ok["storage.backend"]) == {"embedded"}
    assert len(ok) == 4
    assert (ok["task_success_rate"] == 1.0).all()
    workers = {
        json.loads((tmp_path / "runs" / r / "run.json").read_text())["worker"]
        for r in SweepDir(tmp_path).finished()
    }
    assert not any(w.endswith(f":{os.getpid()}") for w in workers)  # ran on Dask workers
    for path in (tmp_path / "failed").glob("*.json"):
        assert "StorageUnavailable" in json.loads(path.read_text())["traceback"]
    events = pd.read_parquet(tmp_path / "events.parquet")
    assert set(events["run_id"]) == set(ok["run_id"])

    again = run_sweep(plan, tmp_path, DaskExecutor(scheduler), progress=False)
    assert (again.skipped, again.done, again.failed) == (4, 0, 4)


def test_scheduler_local_starts_a_local_cluster(tmp_path: Path, capsys: Any) -> None:
    code = main(
        [
            "sweep",
            "--scenario",
            str(TINY),
            "--vary",
            "tasks[0].mafr=[0.5, 0.6]",
            "--seeds",
            "1",
            "--out",
            str(tmp_path),
            "--scheduler",
            "local",
            "--workers",
            "2",
            "--quiet",
        ]
    )
    text = capsys.readouterr().out
    assert code == 0, text
    assert "a Dask LocalCluster of 2 worker process(es) on 127.0.0.1" in text
    runs = pd.read_parquet(tmp_path / "runs.parquet")
    assert list(runs["tasks[0].mafr"]) == [0.5, 0.6]
    assert set(runs["status"]) == {"completed"}


def test_an_unreachable_scheduler_is_a_config_error(tmp_path: Path) -> None:
    plan = build_plan(spec_from_table({"name": "x", "scenario": str(TINY)}, "x.toml"))
    with pytest.raises(ConfigError, match=r"--scheduler tcp://127.0.0.1:9: cannot reach"):
        run_sweep(plan, tmp_path, DaskExecutor("tcp://127.0.0.1:9", timeout_s=1), progress=False)


def test_a_scheduler_that_is_not_an_address_is_rejected() -> None:
    with pytest.raises(ConfigError, match="--scheduler: expected 'local' or a scheduler address"):
        make_executor("somewhere", 1)
