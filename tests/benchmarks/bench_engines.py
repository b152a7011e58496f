"""revm against py-evm end to end: wall time, chain time share, and equal tables at full size.

Not a test (pytest does not collect ``bench_*.py``): a script that prints figures.

Runs each scenario (default: the shipped churn scenario, seed 0) once per engine, the engines
taking turns, after one untimed warm-up run that fills the training and evaluation caches
(so both timed runs do the same learning work: cache reads). Chain time is the time spent
inside the chain's entry points (``seal``, ``call``, ``balance``, ``nonce``, ``code``).
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

    @property
    def share(self) -> float:
        return self.chain / self.wall


@contextmanager
def chain_timer() -> Iterator[list[float]]:
    """Accumulate the time spent in the chain's entry points of either engine."""
    spent = [0.0]
    saved: list[tuple[type[Chain], str, Any]] = []

    def wrap(fn: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kw: Any) -> Any:
            t = time.perf_counter()
            try:
                return fn(*args, **kw)
            finally:
                spent[0] += time.perf_counter() - t

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
        t = time.perf_counter()
        result = run(path, seed, overrides=[f"chain.engine={engine}"])
        wall = time.perf_counter() - t
    return Timing(engine, wall, spent[0]), result


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
    p.add_argument("--repeat", type=int, default=1, help="best of this many runs per engine")
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
                if engine not in best or timing.wall < best[engine].wall:
                    best[engine] = timing
        same_tables(results["py-evm"], results["revm"])
        print(f"{path.stem}: seed {args.seed}, best of {args.repeat}; tables equal on both engines")
        for t in best.values():
            print(
                f"  {t.engine:<7} wall {t.wall:8.2f} s  chain {t.chain:8.2f} s "
                f"({100 * t.share:5.1f} %)  other {t.wall - t.chain:8.2f} s"
            )
        evm, revm = best["py-evm"], best["revm"]
        print(f"  speed-up: total {evm.wall / revm.wall:.2f}x, chain {evm.chain / revm.chain:.1f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
