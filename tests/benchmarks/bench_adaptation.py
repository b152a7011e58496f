"""A long adaptive run of quick's size: tasks arriving as a process, churn, adaptive verifiers.

Usage: .venv/bin/python tests/benchmarks/bench_adaptation.py [--tasks 200] [--seed 0]
       [--evaluation-seed own] [--threads 1] [--engine py-evm] [--warm] [--out DIR]

``scenarios/quick.toml`` (5 contributors, 5 verifiers, committee of 3, Shapley pay, mnist-5k)
with ``--tasks`` tasks arriving as a Poisson process (one an hour on average), contributors
churning (sessions of 8 h on average, an hour away) and verifiers imitating what pays among
honest / lazy / copycat (one of each dishonest kind at the start). The run is made once to
fill the caches with ``--warm`` (otherwise the shared cache under ``~/.cache/baasim`` is
used as it is) and then timed. The machine is shared, so besides the timed run's wall time
it prints its CPU time (this process: the simulation and torch on ``--threads`` threads) and
CPU seconds per task, the robust figure, with the load average before and after, the
simulated horizon, the tasks finalized and the revisions. ``--out DIR`` keeps the timed run's
tables (``events.parquet``, ``summary.json``, ...). Every ``--every`` finalized tasks it prints
the CPU seconds so far, so the cost per task can be read off while the run goes (a cost that
grew with the tasks would show as growing steps) and a run stopped early still gives it.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import torch

from contracts.taskmarket import MarketEvent, TaskFinalized
from sim.runner import LiveRun, RunResult, load_population, run
from sim.scenario import Scenario, load_scenario, with_overrides


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scenario", default="scenarios/quick.toml")
    parser.add_argument("--tasks", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--evaluation-seed", choices=("own", "committee"), default="own")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--engine", choices=("py-evm", "revm"), default="py-evm")
    parser.add_argument("--warm", action="store_true", help="run once first to fill the caches")
    parser.add_argument("--out", default=None, help="write the timed run's tables here")
    parser.add_argument("--every", type=int, default=20, help="progress line every N tasks")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    scenario = with_overrides(
        load_scenario(args.scenario),
        [
            f"tasks[0].count={args.tasks}",
            f'chain.engine="{args.engine}"',  # speed only: the same tables on either
            'tasks[0].interarrival_s={kind="exponential", mean=3600.0}',
            "tasks[0].commit_reveal=false",
            f'tasks[0].evaluation_seed="{args.evaluation_seed}"',
            # the initiator escrows every task's reward from its genesis balance
            f"chain.genesis_balance_ether={20.0 * args.tasks + 100.0}",
            "population.verifier_behaviours={lazy=1, copycat=1}",
            'churn.contributors.session_s={kind="exponential", mean=28800.0}',
            'churn.contributors.offline_s={kind="exponential", mean=3600.0}',
            'adaptation.verifier.rule="imitation"',
            'adaptation.verifier.strategies=["honest", "lazy", "copycat"]',
            "adaptation.verifier.beta=20.0",
            "adaptation.verifier.mutation=0.02",
            "costs.compute_price_ether_per_hour=20.0",
        ],
    )
    if args.warm:
        start = time.perf_counter()
        run(scenario, args.seed)
        print(f"warm-up run: {time.perf_counter() - start:.1f} s", flush=True)
    load = os.getloadavg()
    start, cpu = time.perf_counter(), time.process_time()
    result = timed_run(scenario, args.seed, args.out, args.every, start, cpu)
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    s = result.summary
    tasks = max(args.tasks, 1)
    print(
        f"{args.tasks} tasks (evaluation seed {args.evaluation_seed}, {args.threads} thread(s), "
        f"{args.engine}): "
        f"{wall:.1f} s wall, {cpu:.1f} s CPU, {cpu / tasks:.2f} s CPU per task "
        f"({wall / tasks:.2f} s wall); load average {load[0]:.1f} before, "
        f"{os.getloadavg()[0]:.1f} after; simulated {s['sim_duration_s'] / 3600:.1f} h, "
        f"{s['tasks_finalized']} finalized, {s['tasks_accepted']} accepted, "
        f"{s['strategy_revisions']['verifier']} revisions, "
        f"final verifier shares {s['strategy_share']['verifier']}"
    )
    return 0


def timed_run(
    scenario: Scenario, seed: int, out: str | None, every: int, start: float, cpu: float
) -> RunResult:
    """``sim.runner.run`` with a line of CPU and wall seconds every ``every`` finalized tasks."""
    with tempfile.TemporaryDirectory(prefix="bench-adaptation-") as tmp:
        out_dir = Path(out) if out else Path(tmp)
        out_dir.mkdir(parents=True, exist_ok=True)
        factory = load_population(scenario.population.plugin)
        live = LiveRun.start(scenario, seed, out_dir, factory, None)
        done = [0]

        def on_event(e: MarketEvent) -> None:
            if isinstance(e, TaskFinalized):
                done[0] += 1
                if done[0] % every == 0:
                    print(
                        f"  {done[0]} tasks finalized: {time.process_time() - cpu:.1f} s CPU, "
                        f"{time.perf_counter() - start:.1f} s wall, simulated "
                        f"{live.world.env.now / 3600:.1f} h, load {os.getloadavg()[0]:.1f}",
                        flush=True,
                    )

        live.world.watcher.subscribe(MarketEvent, on_event)
        try:
            live.world.env.run(until=live.end)
        finally:
            live.close()
        return live.finish(out is not None)


if __name__ == "__main__":
    sys.exit(main())
