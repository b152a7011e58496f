"""Search against grid: runs and wall time ``baasim tune`` needs for the answer a full grid
at the same resolution gives.

Usage: .venv/bin/python tests/benchmarks/bench_tune.py [--workers 1] [--trials 24]
       [--batch N] [--out DIR]

The study: on the tiny market, minimise the initiator's cost per accepted task over the
reward (1-8 ether, step 1) and the verifier share (0.05-0.5, step 0.05), subject to each
honest contributor netting at least 1 ether (tests/data/tune_reward.toml with the share
searched too): 80 grid points. The grid runs every point (one seed); the tune runs
``--trials`` trials into another directory. Prints, for both: runs, wall time, the cheapest
feasible cost found, and (tune) the trial and run count at which it first reached the
grid's answer. Both share one training cache (the models do not depend on these values), so
the comparison is of the runs the two need, not of training. ``--batch`` trials are asked
at once (default: one per worker). Wall and CPU time (this process and its workers) for
each: on a shared machine the CPU time is the steadier figure.
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

import pandas as pd

HERE = Path(__file__).resolve().parent
DATA = HERE.parent / "data"

BODY = f"""
scenario = "{DATA / "tiny.toml"}"
seeds = [0]
"""
PARAMS = """
[[param]]
key = "tasks[0].reward_ether"
low = 1.0
high = 8.0
step = 1.0

[[param]]
key = "tasks[0].verifier_share"
low = 0.05
high = 0.5
step = 0.05
"""
TARGETS = """
[[objective]]
metric = "initiator_cost_per_accepted_task"
direction = "minimize"

[[constraint]]
metric = "net_profit_by_behaviour.contributor.honest"
op = ">="
bound = 1.0
rule = "mean"
"""
COST = "initiator_cost_per_accepted_task"
PROFIT = "net_profit_by_behaviour.contributor.honest"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--trials", type=int, default=24)
    parser.add_argument("--batch", type=int, default=None)
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    batch = args.batch or args.workers
    out = Path(args.out or tempfile.mkdtemp(prefix="bench-tune-"))
    out.mkdir(parents=True, exist_ok=True)

    from sim.sweep import LocalExecutor, build_plan, load_sweep, run_sweep
    from sim.sweep.tune import load_tune, run_tune

    grid_file = out / "grid.toml"
    grid_file.write_text(
        'name = "grid"\n' + BODY
        + '[[vary]]\nkey = "tasks[0].reward_ether"\nstart = 1.0\nstop = 8.0\nstep = 1.0\n'
        + '[[vary]]\nkey = "tasks[0].verifier_share"\nstart = 0.05\nstop = 0.5\nstep = 0.05\n'
    )  # fmt: skip
    tune_file = out / "tune.toml"
    head = f'name = "tune"\nbatch = {batch}\nstartup_trials = 8\n'
    tune_file.write_text(head + BODY + PARAMS + TARGETS)

    start, cpu = time.perf_counter(), _cpu()
    status = run_tune(
        load_tune(str(tune_file)), out / "tune", LocalExecutor(args.workers),
        trials=args.trials, threads=1, progress=False, echo=lambda _: None,
    )  # fmt: skip
    tune_wall, tune_cpu = time.perf_counter() - start, _cpu() - cpu
    trials = pd.read_parquet(out / "tune" / "trials.parquet")
    tune_runs = len(pd.read_parquet(out / "tune" / "runs.parquet"))

    start, cpu = time.perf_counter(), _cpu()
    plan = build_plan(load_sweep(grid_file))
    run_sweep(plan, out / "grid", LocalExecutor(args.workers), threads=1, progress=False)
    grid_wall, grid_cpu = time.perf_counter() - start, _cpu() - cpu
    runs = pd.read_parquet(out / "grid" / "runs.parquet")
    feasible = runs[runs[PROFIT] >= 1.0e18]
    answer = float(feasible[COST].min()) / 1e18

    ok = trials[trials["feasible"]]
    first = ok[ok[f"objective.{COST}"] <= answer + 1e-9]
    print(
        f"grid: {len(runs)} runs, {grid_wall:.0f} s wall, {grid_cpu:.0f} s CPU; cheapest"
        f" feasible cost {answer:.4f} ether"
    )
    best = float(ok[f"objective.{COST}"].min()) if not ok.empty else float("nan")
    print(
        f"tune (batch {batch}): {len(trials)} trials, {tune_runs} runs, {tune_wall:.0f} s wall, "
        f"{tune_cpu:.0f} s CPU; cheapest feasible cost {best:.4f} ether"
    )
    if first.empty:
        print("tune did not reach the grid's answer")
    else:
        n = int(first["trial"].iloc[0])
        keys = ["tasks[0].reward_ether", "tasks[0].verifier_share"]
        needed = len(trials[trials["trial"] <= n][keys].drop_duplicates())
        print(
            f"tune reached the grid's answer at trial {n} after {needed} distinct runs "
            f"({status.trials} trials in all)"
        )


def _cpu() -> float:
    """CPU seconds of this process and its finished children (the workers, once stopped)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


if __name__ == "__main__":
    main()
