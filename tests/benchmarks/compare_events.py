"""Same-seed event tables of scenarios, written for comparison across code versions.

    PYTHONPATH=CHECKOUT python tests/benchmarks/compare_events.py OUT.parquet SCENARIO...
    python tests/benchmarks/compare_events.py --diff A.parquet B.parquet

Each scenario runs with its first seed; ``run_id`` and ``scenario_hash`` are dropped (they
name the code's scenario schema, not the run's behaviour). ``--diff`` exits 1 when the
tables differ and prints the first differing rows.
"""

from __future__ import annotations

import sys

import pandas as pd


def main(argv: list[str]) -> int:
    if argv[0] == "--diff":
        a, b = (pd.read_parquet(p) for p in argv[1:3])
        if a.equals(b):
            print(f"identical: {len(a)} rows")
            return 0
        print(f"differ: {len(a)} against {len(b)} rows")
        n = min(len(a), len(b))
        diff = (a.iloc[:n].astype(str) != b.iloc[:n].astype(str)).any(axis=1)
        print(a.iloc[:n][diff].head(5).to_string())
        print(b.iloc[:n][diff].head(5).to_string())
        return 1
    from sim.runner import run

    frames = []
    for path in argv[1:]:
        events = run(path).events.drop(columns=["run_id", "scenario_hash"])
        frames.append(events.assign(scenario=path))
    pd.concat(frames, ignore_index=True).to_parquet(argv[0])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
