"""A long adaptive run of quick's size: tasks arriving as a process, churn, adaptive verifiers.

Usage: .venv/bin/python tests/benchmarks/bench_adaptation.py [--tasks 200] [--seed 0]
       [--evaluation-seed own] [--threads 1] [--warm]

``scenarios/quick.toml`` (5 contributors, 5 verifiers, committee of 3, Shapley pay, mnist-5k)
with ``--tasks`` tasks arriving as a Poisson process (one an hour on average), contributors
churning (sessions of 8 h on average, an hour away) and verifiers imitating what pays among
honest / lazy / copycat (one of each dishonest kind at the start). The run is made once to
fill the caches with ``--warm`` (otherwise the shared cache under ``~/.cache/baasim`` is
used as it is) and then timed; the figure is the timed run's wall time, with the simulated
horizon, the tasks finalized, the revisions and the wall time per task.
"""

from __future__ import annotations

import argparse
import sys
import time

import torch

from sim.runner import run
from sim.scenario import load_scenario, with_overrides


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scenario", default="scenarios/quick.toml")
    parser.add_argument("--tasks", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--evaluation-seed", choices=("own", "committee"), default="own")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--warm", action="store_true", help="run once first to fill the caches")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    scenario = with_overrides(
        load_scenario(args.scenario),
        [
            f"tasks[0].count={args.tasks}",
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
    start = time.perf_counter()
    result = run(scenario, args.seed)
    wall = time.perf_counter() - start
    s = result.summary
    print(
        f"{args.tasks} tasks (evaluation seed {args.evaluation_seed}, {args.threads} thread(s)): "
        f"{wall:.1f} s wall, {wall / max(args.tasks, 1):.2f} s per task; simulated "
        f"{s['sim_duration_s'] / 3600:.1f} h, {s['tasks_finalized']} finalized, "
        f"{s['tasks_accepted']} accepted, {s['strategy_revisions']['verifier']} revisions, "
        f"final verifier shares {s['strategy_share']['verifier']}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
