"""Simulation overhead: a whole scenario run vs the same learning work done directly.

Usage: .venv/bin/python tests/benchmarks/bench_run.py [--scenario scenarios/quick.toml] [--repeat 2]

(a) ``sim.run`` end to end (chain, agents, network, storage, recorder, oracle, outputs);
(b) the same training and fusion calls made straight through the learning layer: every
contributor's training request, every committee member's evaluation of the submitted
models, the oracle's evaluation with the test set and the initiator's fusion of the paid
models, with the same seeds. Each repeat uses a fresh, empty training cache for both, and
the two paths take turns. Overhead = (a − b) / b; target ≤ 10 %.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from contracts import compile_contract
from sim.learning_service import LearningService
from sim.rng import RngStreams
from sim.runner import run
from sim.scenario import Scenario, load_scenario


def end_to_end(scenario: Scenario, seed: int) -> tuple[float, dict]:
    start = time.perf_counter()
    result = run(scenario, seed)
    elapsed = time.perf_counter() - start
    ev = result.events
    drawn = ev[ev["kind"] == "committee_drawn"]["detail"].iloc[0]
    seed_hex = drawn.split(";")[0].removeprefix("seed 0x")
    committee_seed = int.from_bytes(bytes.fromhex(seed_hex)[:8], "big") >> 1
    committee = sorted(set(ev[ev["kind"] == "evaluated"]["agent"]))
    return elapsed, {"seed": committee_seed, "committee": committee, "summary": result.summary}


def direct(scenario: Scenario, seed: int, committee_seed: int, members: int) -> float:
    """The learning work of one run, called directly with the seeds the run used: each
    committee member's evaluation (the committee's shared seed), the oracle's (with the
    test set) and the initiator's fusion of the paid models."""
    start = time.perf_counter()
    streams = RngStreams(seed)
    learning = LearningService(scenario, streams)
    blobs = [
        learning.train(i, streams.integer_seed("train", i)).weights
        for i in range(scenario.population.contributors)
    ]
    models = [learning.load(b) for b in blobs]
    data = learning.verification_set()
    for _ in range(members):
        learning.evaluate(models, data, committee_seed)
    learning.evaluate(models, data, committee_seed, with_test=True)
    learning.initiator_model(blobs, streams.integer_seed("access", 1))
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scenario", default="scenarios/quick.toml")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    scenario = load_scenario(args.scenario)
    compile_contract("TaskMarket")  # compiled once per process, as in any real session
    sims, directs = [], []
    for r in range(args.repeat):
        with tempfile.TemporaryDirectory() as cache:
            os.environ["BAASIM_CACHE"] = cache
            t_sim, info = end_to_end(scenario, args.seed)
        with tempfile.TemporaryDirectory() as cache:
            os.environ["BAASIM_CACHE"] = cache
            t_direct = direct(scenario, args.seed, info["seed"], len(info["committee"]))
        sims.append(t_sim)
        directs.append(t_direct)
        print(
            f"repeat {r}: end to end {t_sim:.2f} s, learning directly {t_direct:.2f} s, "
            f"overhead {100 * (t_sim - t_direct) / t_direct:+.1f} % "
            f"({info['summary']['transactions']} transactions, committee {info['committee']})"
        )
    best_sim, best_direct = min(sims), min(directs)
    med_sim, med_direct = statistics.median(sims), statistics.median(directs)
    print(
        f"{Path(args.scenario).name}: best end to end {best_sim:.2f} s, best direct "
        f"{best_direct:.2f} s, overhead {100 * (best_sim - best_direct) / best_direct:+.1f} % "
        f"(medians: {100 * (med_sim - med_direct) / med_direct:+.1f} %)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
