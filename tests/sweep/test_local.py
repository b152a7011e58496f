"""Sweeps on local worker processes: real runs, failures, killed workers, Ctrl-C and resume."""

from __future__ import annotations

import importlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from sim.cli import main
from sim.learning.device import torch_threads
from sim.runner import run
from sim.sweep import LocalExecutor, SweepDir, build_plan, run_sweep, spec_from_table
from sim.sweep.worker import WORKER_ENV

HERE = Path(__file__).resolve().parent
TINY = HERE.parent / "data" / "tiny.toml"
ROOT = HERE.parents[1]

pytestmark = pytest.mark.slow

# A daemon nobody runs: a run with backend "ipfs" fails at once (StorageUnavailable).
NO_DAEMON = {
    "storage.api": "/ip4/127.0.0.1/tcp/9/http",
    "storage.timeout_s": 1.0,
    "storage.retries": 0,
}


def plan_of(vary: list[dict[str, Any]], **top: Any) -> Any:
    table = {"name": "t", "scenario": str(TINY), "vary": vary, **top}
    return build_plan(spec_from_table(table, "t.toml"))


@pytest.fixture(scope="module")
def swept(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Path, Any]:
    """2 stakes × 2 storage backends × 1 seed; the "ipfs" points fail (no daemon)."""
    plan = plan_of(
        [
            {"key": "tasks[0].verifier_stake_ether", "values": [0.5, 2.0]},
            {"key": "storage.backend", "values": ["embedded", "ipfs"]},
        ],
        seeds=1,
        set=NO_DAEMON,
    )
    out = tmp_path_factory.mktemp("sweep") / "out"
    status = run_sweep(plan, out, LocalExecutor(2), threads=1, progress=False)
    return plan, out, status


def test_every_run_is_kept_and_a_failing_run_does_not_stop_the_sweep(
    swept: tuple[Any, Path, Any],
) -> None:
    plan, out, status = swept
    assert (status.total, status.skipped, status.done, status.failed) == (4, 0, 2, 2)
    jobs = {j.run_id: j for j in plan.jobs()}
    good = {
        r for r, j in jobs.items() if plan.points[j.point].values["storage.backend"] == "embedded"
    }
    assert SweepDir(out).finished() == good
    for run_id in good:
        files = {p.name for p in (out / "runs" / run_id).iterdir()}
        assert files == {"events.parquet", "summary.json", "series.parquet", "run.json"}
        record = json.loads((out / "runs" / run_id / "run.json").read_text())
        assert record["point"] == jobs[run_id].point
        assert not record["worker"].endswith(f":{os.getpid()}")  # ran in a worker process
    failed = sorted((out / "failed").glob("*.json"))
    assert {p.stem for p in failed} == set(jobs) - good
    for path in failed:
        record = json.loads(path.read_text())
        assert record["error"].startswith("StorageUnavailable: no IPFS daemon answers")
        assert "Traceback (most recent call last)" in record["traceback"]
        assert record["values"]["storage.backend"] == "ipfs"


def test_runs_parquet_has_one_row_per_run_with_parameters_and_metrics(
    swept: tuple[Any, Path, Any],
) -> None:
    plan, out, _ = swept
    runs = pd.read_parquet(out / "runs.parquet")
    assert list(runs.columns[:7]) == [
        "point",
        "run_id",
        "seed",
        "tasks[0].verifier_stake_ether",
        "storage.backend",
        "status",
        "error",
    ]
    assert sorted(runs["run_id"]) == sorted(j.run_id for j in plan.jobs())
    ok = runs[runs["storage.backend"] == "embedded"]
    assert set(ok["status"]) == {"completed"}
    assert ok["error"].isna().all()
    assert (ok["task_success_rate"] == 1.0).all()
    assert ok["oracle_fused_accuracy_accepted"].between(0.5, 1.0).all()
    assert (ok["net_profit_by_behaviour.verifier.honest"] > 0).all()
    bad = runs[runs["storage.backend"] == "ipfs"]
    assert set(bad["status"]) == {"failed"}
    assert bad["error"].str.contains("StorageUnavailable").all()
    assert bad["oracle_fused_accuracy_accepted"].isna().all()


def test_events_parquet_concatenates_every_finished_runs_events(
    swept: tuple[Any, Path, Any],
) -> None:
    _, out, _ = swept
    events = pd.read_parquet(out / "events.parquet")
    finished = sorted(SweepDir(out).finished())
    assert sorted(events["run_id"].unique()) == finished
    for run_id in finished:
        own = pd.read_parquet(out / "runs" / run_id / "events.parquet")
        mine = events[events["run_id"] == run_id].reset_index(drop=True)
        pd.testing.assert_frame_equal(mine, own)


def test_a_sweep_run_is_the_run_sim_run_gives(swept: tuple[Any, Path, Any]) -> None:
    plan, out, _ = swept
    job = plan.jobs()[0]
    threads = 1  # the sweep's workers ran with one torch thread each (two workers, two cores)
    with torch_threads(threads):
        direct = run(job.scenario, job.seed)
    kept = pd.read_parquet(out / "runs" / job.run_id / "events.parquet")
    pd.testing.assert_frame_equal(kept, direct.events)


def test_running_again_redoes_only_the_failed_runs(swept: tuple[Any, Path, Any]) -> None:
    plan, out, _ = swept
    finished = SweepDir(out).finished()
    before = {r: (out / "runs" / r / "summary.json").stat().st_mtime_ns for r in finished}
    again = run_sweep(plan, out, LocalExecutor(1), progress=False)
    assert (again.skipped, again.done, again.failed) == (2, 0, 2)
    after = {r: (out / "runs" / r / "summary.json").stat().st_mtime_ns for r in finished}
    assert after == before
    assert len(pd.read_parquet(out / "runs.parquet")) == 4


def test_the_report_of_a_real_sweep_renders(swept: tuple[Any, Path, Any], render_dom: Any) -> None:
    _, out, _ = swept
    assert main(["report", str(out)]) == 0
    report = out / "report"
    pngs = sorted(p.name for p in report.glob("*.png"))
    assert "incentives-vs-tasks-0-verifier-stake-ether.png" in pngs
    dom = render_dom(report / "index.html")
    assert f'data-images-loaded="{len(pngs)}/{len(pngs)}"' in dom
    assert "Failed runs" in dom
    assert "StorageUnavailable" in dom


def test_a_killed_worker_costs_only_the_run_it_held(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.syspath_prepend(str(HERE))  # spawned workers inherit sys.path
    jobs = importlib.import_module("sweep_jobs")
    plan = plan_of([{"key": "tasks[0].mafr", "values": [0.5, 0.6]}], seeds=4)
    executor = LocalExecutor(2, function=jobs.die_on_odd_seeds)
    status = run_sweep(plan, tmp_path, executor, progress=False)
    # 4 of 8 jobs killed their worker; the 2-worker pool went on with fresh ones
    assert (status.done, status.failed) == (4, 4)
    for path in (tmp_path / "failed").glob("*.json"):
        record = json.loads(path.read_text())
        assert record["seed"] % 2 == 1
        assert "WorkerDied" in record["error"]
        assert "killed by signal 9" in record["error"]
    assert {r.rsplit("-s", 1)[1] for r in SweepDir(tmp_path).finished()} == {"0", "2"}
    runs = pd.read_parquet(tmp_path / "runs.parquet")
    done = runs[runs["status"] == "completed"]
    assert list(done["score"]) == [0.0, 2.0, 0.0, 2.0]
    # workers start with the malloc settings of WORKER_ENV; this process's environment is as it was
    assert (done["malloc_trim"] == int(WORKER_ENV["MALLOC_TRIM_THRESHOLD_"])).all()
    assert os.environ.get("MALLOC_TRIM_THRESHOLD_") != WORKER_ENV["MALLOC_TRIM_THRESHOLD_"]


# ---------------------------------------------------------------- Ctrl-C and resume


def sweep_command(path: Path, out: Path) -> list[str]:
    return [sys.executable, "-m", "sim", "sweep", str(path), "--out", str(out), "--quiet"]


def test_an_interrupted_sweep_resumes_without_redoing_finished_runs(tmp_path: Path) -> None:
    path = tmp_path / "stake.toml"
    path.write_text(
        f'scenario = "{TINY}"\nseeds = 2\n'
        '[[vary]]\nkey = "tasks[0].verifier_stake_ether"\nvalues = [0.5, 1.0, 2.0]\n'
    )
    out = tmp_path / "out"
    command = [*sweep_command(path, out), "--workers", "1"]
    first = subprocess.Popen(
        command, cwd=ROOT, start_new_session=True, stdout=subprocess.PIPE, text=True
    )
    store = SweepDir(out)
    deadline = time.monotonic() + 600
    while len(store.finished()) < 2 and first.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    os.killpg(first.pid, signal.SIGINT)  # what Ctrl-C in a terminal sends
    output, _ = first.communicate(timeout=120)
    assert first.returncode == 130, output
    assert "Run the same command again to resume" in output
    kept = store.finished()
    assert 2 <= len(kept) < 6
    files = {r: _files(out / "runs" / r) for r in kept}

    command[-1] = "2"  # the rest on two workers
    second = subprocess.run(
        command, cwd=ROOT, capture_output=True, text=True, timeout=600, check=False
    )
    assert second.returncode == 0, second.stderr
    assert f"{len(kept)} already finished, {6 - len(kept)} to run" in second.stdout
    runs = pd.read_parquet(out / "runs.parquet")
    assert len(runs) == 6
    assert runs["run_id"].is_unique
    assert set(runs["status"]) == {"completed"}
    assert set(runs["run_id"]) == store.finished()
    for run_id, before in files.items():
        assert _files(out / "runs" / run_id) == before  # not run again: same bytes, same mtimes
    assert not list((out / "runs").glob(".tmp-*"))


def _files(folder: Path) -> dict[str, tuple[int, bytes]]:
    return {p.name: (p.stat().st_mtime_ns, p.read_bytes()) for p in sorted(folder.iterdir())}
