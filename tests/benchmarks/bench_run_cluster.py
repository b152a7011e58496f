"""Benchmark: one run's learning work on a Dask LocalCluster against the same run here.

    .venv/bin/python tests/benchmarks/bench_run_cluster.py [scenarios/quick.toml]
        [--seed 0] [--workers 2]

Runs the scenario twice, each with a fresh, empty ``BAASIM_CACHE`` (cold: every model is
trained and every evaluation computed): first here, then with its training and
evaluations submitted to a
LocalCluster of ``--workers`` single-threaded worker processes on loopback (started before
the clock starts). Prints each run's wall time, their ratio, and whether the two event
tables are identical (they must be).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import tempfile
import time
from concurrent.futures import Executor
from pathlib import Path

import pandas as pd

from sim.runner import RunResult, run
from sim.sweep.cluster import dask_client


def cold_run(
    path: str, seed: int, cache: Path, executor: Executor | None = None
) -> tuple[RunResult, float]:
    os.environ["BAASIM_CACHE"] = str(cache)
    start = time.perf_counter()
    result = run(path, seed, learning_executor=executor)
    return result, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenario", nargs="?", default="scenarios/quick.toml")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="baasim-bench-") as tmp:
        here, t_here = cold_run(args.scenario, args.seed, Path(tmp) / "here")
        print(f"{args.scenario} seed {args.seed}, cold, here: {t_here:.1f} s", flush=True)
        with contextlib.ExitStack() as stack:
            # the workers inherit the cluster cache directory when they start
            os.environ["BAASIM_CACHE"] = str(Path(tmp) / "workers")
            client = dask_client(None, args.workers, stack)
            executor = client.get_executor(pure=False)
            there, t_there = cold_run(args.scenario, args.seed, Path(tmp) / "client", executor)
        print(
            f"{args.scenario} seed {args.seed}, cold, learning work on a LocalCluster of "
            f"{args.workers} workers: {t_there:.1f} s; here / cluster = {t_here / t_there:.2f}"
        )
        same = here.events.equals(there.events)
        if not same:
            pd.testing.assert_frame_equal(here.events, there.events)
        print(f"event tables identical: {same} ({len(here.events)} events)")


if __name__ == "__main__":
    main()
