"""revm against py-evm end to end: wall time, chain time share, and equal tables at full size.

Not a test (pytest does not collect ``bench_*.py``): a script that prints figures.

Runs each scenario (default: the shipped churn scenario, seed 0) once per engine, the engines
taking turns, after one untimed warm-up run that fills the training and evaluation caches
(so both timed runs do the same learning work: cache reads). Chain time is the time spent
inside the chain's entry points (``seal``, ``call``, ``balance``, ``nonce``, ``code``).
Each is measured as wall time and as CPU time of the process (``time.process_time``): on a
shared machine the wall time of the rest of a run varies with the load, its CPU time much
less.
Every pair of runs must give equal event tables, series and summaries (wall time aside):
the full-size counterpart of ``tests/scenario/test_engines.py`` (``--all`` runs every
shipped scenario).

Run:  .venv/bin/python tests/benchmarks/bench_engines.py [SCENARIO ...] [--all] [--repeat 1]
      [--no-warm-up]
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from contracts.chain import ENGINES, Chain, Engine, RevmChain
from sim.runner import RunResult, run

ROOT = Path(__file__).resolve().parents[2]
TIMED = ("seal", "call", "balance", "nonce", "code")


@dataclass
class Timing:
    engine: Engine
    wall: float
    chain: float
    cpu: float
    chain_cpu: float


@contextmanager
def chain_timer() -> Iterator[list[float]]:
    """Accumulate the time spent in the chain's entry points of either engine."""
    spent = [0.0, 0.0]
    saved: list[tuple[type[Chain], str, Any]] = []

    def wrap(fn: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kw: Any) -> Any:
            t, c = time.perf_counter(), time.process_time()
            try:
                return fn(*args, **kw)
            finally:
                spent[0] += time.perf_counter() - t
                spent[1] += time.process_time() - c

        return timed

    classes: tuple[type[Chain], ...] = (Chain, RevmChain)
    for cls in classes:
        for name in TIMED:
            if name in vars(cls):
                original = vars(cls)[name]
                saved.append((cls, name, original))
                setattr(cls, name, wrap(original))
    try:
        yield spent
    finally:
        for cls, name, original in saved:
            setattr(cls, name, original)


def timed_run(path: Path, engine: Engine, seed: int) -> tuple[Timing, RunResult]:
    with chain_timer() as spent:
        t, c = time.perf_counter(), time.process_time()
        result = run(path, seed, overrides=[f"chain.engine={engine}"])
        wall, cpu = time.perf_counter() - t, time.process_time() - c
    return Timing(engine, wall, spent[0], cpu, spent[1]), result


def same_tables(a: RunResult, b: RunResult) -> None:
    pd.testing.assert_frame_equal(a.events, b.events)
    pd.testing.assert_frame_equal(a.series, b.series)
    drop = "wall_time_s"
    if {k: v for k, v in a.summary.items() if k != drop} != {
        k: v for k, v in b.summary.items() if k != drop
    }:
        raise AssertionError("summaries differ")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("scenarios", nargs="*", type=Path)
    p.add_argument("--all", action="store_true", help="every shipped scenario")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--repeat", type=int, default=1, help="least CPU of this many runs each")
    p.add_argument("--no-warm-up", action="store_true")
    args = p.parse_args(argv)
    paths = list(args.scenarios) or [ROOT / "scenarios" / "churn.toml"]
    if args.all:
        paths = sorted((ROOT / "scenarios").glob("*.toml")) + sorted(
            (ROOT / "scenarios" / "attacks").glob("*.toml")
        )
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores")
    for path in paths:
        if not args.no_warm_up:
            run(path, args.seed)  # fills the learning caches: timed runs only read them
        best: dict[Engine, Timing] = {}
        results: dict[Engine, RunResult] = {}
        for _ in range(args.repeat):
            for engine in ENGINES:
                timing, results[engine] = timed_run(path, engine, args.seed)
                if engine not in best or timing.cpu < best[engine].cpu:
                    best[engine] = timing
        same_tables(results["py-evm"], results["revm"])
        print(f"{path.stem}: seed {args.seed}, best of {args.repeat}; tables equal on both engines")
        for t in best.values():
            print(
                f"  {t.engine:<7} wall {t.wall:8.2f} s  chain {t.chain:7.2f} s "
                f"({100 * t.chain / t.wall:4.1f} %) | cpu {t.cpu:8.2f} s  "
                f"chain {t.chain_cpu:7.2f} s ({100 * t.chain_cpu / t.cpu:4.1f} %)  "
                f"other {t.cpu - t.chain_cpu:8.2f} s"
            )
        evm, revm = best["py-evm"], best["revm"]
        print(
            f"  speed-up: wall {evm.wall / revm.wall:.2f}x (chain {evm.chain / revm.chain:.1f}x), "
            f"cpu {evm.cpu / revm.cpu:.2f}x (chain {evm.chain_cpu / revm.chain_cpu:.1f}x)"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
