"""Sweep benchmark: worker scaling, and an incentive sweep over cached models vs training.

    .venv/bin/python tests/benchmarks/bench_sweep.py [--part scaling|incentive|all]

Scaling: the same sweep (default: the shipped lazy_stake.toml, 18 runs) run into fresh
directories with 1 worker and with 2 workers, the training cache warm (a first pass fills
it) and the evaluation cache emptied before each sweep. Timed: ``run_sweep`` wall clock,
worker start-up included. Two 1-worker figures: with the CLI's default of cores/workers = 2
torch threads, and with 1 thread like each of the 2 workers.

Incentive: the paper scenario (full MNIST; ``baasim data fetch mnist`` first) swept over 100
incentive settings (verifier stake × slash fraction × reward, one seed, so every run uses
the same five trained models), against training those models once. With a fresh
``$BAASIM_CACHE`` (the MNIST file and compiled contracts linked in; no models, no
evaluations), at 1 torch thread (the sweep workers' setting, which cache keys include):
``training`` is the five contributors' training requests made directly through the learning
layer; then the 100-run sweep on 2 workers × 1 thread over that cache (its first runs compute
the verifiers' evaluations, later runs read them). Ratio: sweep / training (target ≤ 1.2×).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import shutil
import tempfile
import time
from pathlib import Path

from sim.learning.device import torch_threads
from sim.learning_service import LearningService
from sim.paths import cache_dir
from sim.rng import RngStreams
from sim.scenario import load_scenario
from sim.sweep import LocalExecutor, Plan, build_plan, load_sweep, run_sweep, spec_from_table

ROOT = Path(__file__).resolve().parents[2]


def sweep_wall(plan: Plan, workers: int, threads: int, scratch: Path) -> float:
    """Wall seconds of ``plan`` into a fresh directory, trained models cached, evaluations not."""
    shutil.rmtree(cache_dir("evaluations"), ignore_errors=True)
    out = Path(tempfile.mkdtemp(dir=scratch, prefix=f"w{workers}t{threads}-"))
    start = time.perf_counter()
    status = run_sweep(
        plan, out, LocalExecutor(workers), threads=threads, progress=False, echo=lambda _: None
    )
    wall = time.perf_counter() - start
    for failure in sorted((out / "failed").glob("*.json")):
        record = json.loads(failure.read_text())
        print(f"  FAILED {record['run_id']} {record['values']}: {record['traceback'][-800:]}")
    if status.done != status.total - status.failed:
        raise SystemExit(f"sweep into {out} did not finish: {status}")
    return wall


def scaling(sweep: Path, seeds: int | None, repeat: int, scratch: Path) -> None:
    spec = load_sweep(sweep)
    if seeds is not None:
        spec = dataclasses.replace(spec, seeds=seeds)
    plan = build_plan(spec)
    n = len(plan.jobs())
    print(f"scaling: {sweep.relative_to(ROOT)}, {n} runs; warming the training cache ...")
    sweep_wall(plan, 2, 1, scratch)
    best: dict[tuple[int, int], float] = {}
    for r in range(repeat):
        for workers, threads in ((1, 2), (2, 1), (1, 1)):
            wall = sweep_wall(plan, workers, threads, scratch)
            key = (workers, threads)
            best[key] = min(best.get(key, wall), wall)
            print(f"  round {r + 1}: {workers} worker(s) × {threads} thread(s): {wall:6.1f} s")
    two = best[(2, 1)]
    print("best of rounds:")
    for (workers, threads), wall in best.items():
        print(f"  {workers} worker(s) × {threads} thread(s): {wall:6.1f} s, {n / wall:.2f} runs/s")
    print(
        f"  speed-up 2 workers vs 1 worker (2 threads, the CLI default): {best[(1, 2)] / two:.2f}×"
    )
    print(f"  speed-up 2 workers vs 1 worker (1 thread): {best[(1, 1)] / two:.2f}×")


def fresh_cache(scratch: Path) -> Path:
    """A cache holding the data sets and compiled contracts of the real one, but no models."""
    real = cache_dir()
    fresh = scratch / "cache"
    fresh.mkdir()
    for part in ("data", "contracts"):
        if (real / part).exists():
            (fresh / part).symlink_to(real / part)
    return fresh


def train_once(scenario: Path) -> tuple[float, int]:
    """Seconds to train the scenario's contributors' models (seed 0), and how many."""
    base = load_scenario(scenario)
    streams = RngStreams(0)
    learning = LearningService(base, streams)
    _ = learning.partition  # data loading and partitioning are not training
    start = time.perf_counter()
    n = base.population.contributors
    for i in range(n):
        learning.train(i, streams.integer_seed("train", i))
    return time.perf_counter() - start, n


def incentive(scenario: Path, runs: int, scratch: Path) -> None:
    os.environ["BAASIM_CACHE"] = str(fresh_cache(scratch))  # read by cache_dir at each call
    with torch_threads(1):
        training, n_models = train_once(scenario)
    models = sorted(cache_dir("models").rglob("*.safetensors"))
    print(f"incentive: {scenario.relative_to(ROOT)}, seed 0, fresh cache, 1 thread")
    print(f"  training the {n_models} models once:  {training:6.1f} s")
    stakes = [0.5, 1.0, 2.0, 4.0, 8.0]
    slashes = [0.25, 0.5, 0.75, 1.0]
    rewards = [5.0, 10.0, 20.0, 40.0, 80.0][: max(1, runs // (len(stakes) * len(slashes)))]
    table = {
        "name": "incentives",
        "scenario": str(scenario),
        "seeds": [0],
        "vary": [
            {"key": "tasks[0].verifier_stake_ether", "values": stakes},
            {"key": "tasks[0].slash_fraction", "values": slashes},
            {"key": "tasks[0].reward_ether", "values": rewards},
        ],
    }
    plan = build_plan(spec_from_table(table, "bench"))
    n = len(plan.jobs())
    wall = sweep_wall(plan, 2, 1, scratch)
    after = sorted(cache_dir("models").rglob("*.safetensors"))
    print(f"  {n}-run sweep, 2 workers × 1 thread:  {wall:6.1f} s ({wall / n:.2f} s per run)")
    print(f"  models trained during the sweep:    {len(after) - len(models)}")
    print(f"  sweep / training: {wall / training:.2f}×")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--part", choices=("scaling", "incentive", "all"), default="all")
    parser.add_argument("--sweep", type=Path, default=ROOT / "scenarios/sweeps/lazy_stake.toml")
    parser.add_argument("--scenario", type=Path, default=ROOT / "scenarios/paper.toml")
    parser.add_argument("--seeds", type=int, default=None, help="seeds of --sweep (a count)")
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs")
    with tempfile.TemporaryDirectory(prefix="bench-sweep-") as tmp:
        scratch = Path(tmp)
        if args.part in ("scaling", "all"):
            scaling(args.sweep.resolve(), args.seeds, args.repeat, scratch)
        if args.part in ("incentive", "all"):
            incentive(args.scenario.resolve(), args.runs, scratch)
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
