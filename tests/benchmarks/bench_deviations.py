"""A deviation study's cost: runs and wall time against the naive count (kinds × seeds × 2).

Usage: .venv/bin/python tests/benchmarks/bench_deviations.py [--scenario scenarios/quick.toml]
       [--seeds 20] [--workers 2] [--out DIR] [--cache DIR]

Runs ``baasim deviations`` over every built-in kind into a fresh directory (with a fresh,
empty training cache unless ``--cache`` names one) and prints: deviations, runs planned
against the naive count, wall time, the sum and mean of the runs' own wall times, and the
naive count's time extrapolated at the mean run time of this study. The study needs fewer
runs (one shared base run per seed instead of one per (kind, seed)) and its runs are cheaper
than a first run: the honest contributors train the same models in every run of a seed, so
all but the first read them from the cache.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", default="scenarios/quick.toml")
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", default=None)
    parser.add_argument("--cache", default=None, help="training cache (default: a fresh one)")
    args = parser.parse_args()
    out = Path(args.out or tempfile.mkdtemp(prefix="bench-deviations-"))
    os.environ["BAASIM_CACHE"] = args.cache or tempfile.mkdtemp(prefix="bench-cache-")

    from sim.sweep import LocalExecutor
    from sim.sweep.deviations import build_deviation_plan, run_deviations

    dplan = build_deviation_plan(args.scenario, args.seeds)
    start = time.perf_counter()
    status = run_deviations(dplan, out, LocalExecutor(args.workers), threads=1, progress=False)
    wall = time.perf_counter() - start
    runs = [json.loads(p.read_text()) for p in (out / "runs").glob("*/run.json")]
    run_walls = [r["wall_s"] for r in runs]
    mean = statistics.mean(run_walls)
    planned = len(dplan.plan.points) * len(dplan.plan.seeds)
    print(f"scenario {args.scenario}, {args.seeds} seeds, {args.workers} workers, out {out}")
    print(f"deviations {len(dplan.deviations)}, not applicable {len(dplan.not_applicable)}")
    print(f"runs: {planned} planned vs {dplan.naive_runs} naive ({planned / dplan.naive_runs:.2f})")
    print(f"wall {wall:.0f} s; runs' own wall: sum {sum(run_walls):.0f} s, mean {mean:.1f} s, "
          f"first-of-seed max {max(run_walls):.1f} s")  # fmt: skip
    print(f"naive count at this mean run time: {dplan.naive_runs * mean:.0f} s of run time")
    for row in status.rows:
        print(f"  {row['role']}/{row['kind']}: {row['verdict']} (gain {row['gain']})")


if __name__ == "__main__":
    main()
