"""Same-seed event tables of scenarios, written for comparison across code versions.

    PYTHONPATH=CHECKOUT python tests/benchmarks/compare_events.py OUT.parquet SCENARIO...
    python tests/benchmarks/compare_events.py --diff A.parquet B.parquet
    python tests/benchmarks/compare_events.py --columns A.parquet B.parquet

Each scenario runs with its first seed; ``run_id`` and ``scenario_hash`` are dropped (they
name the code's scenario schema, not the run's behaviour). ``--diff`` exits 1 when the
tables differ and prints the first differing rows. ``--columns`` (same rows expected) prints,
per column, how many rows differ and of which kinds, and the mean gas per call of ``tx`` rows
per scenario (A, B, change); it exits 1 when the row counts or kinds differ.
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
    if argv[0] == "--columns":
        return columns(*(pd.read_parquet(p) for p in argv[1:3]))
    from sim.runner import run

    frames = []
    for path in argv[1:]:
        events = run(path).events.drop(columns=["run_id", "scenario_hash"])
        frames.append(events.assign(scenario=path))
    pd.concat(frames, ignore_index=True).to_parquet(argv[0])
    return 0


def columns(a: pd.DataFrame, b: pd.DataFrame) -> int:
    """Which columns differ, on which kinds of rows; mean gas per call of A and B."""
    if len(a) != len(b) or not a["kind"].equals(b["kind"]):
        print(f"rows differ: {len(a)} against {len(b)} (or their kinds)")
        return 1
    print(f"{len(a)} rows, same kinds in the same order")
    for col in a.columns:
        diff = a[col].astype(object).map(repr) != b[col].astype(object).map(repr)
        if diff.any():
            kinds = a.loc[diff, "kind"].value_counts().to_dict()
            print(f"  {col}: {int(diff.sum())} rows differ, kinds {kinds}")
    for scenario, rows in a[a["kind"] == "tx"].groupby("scenario"):
        mine = b.loc[rows.index]
        print(f"{scenario}: mean gas per call (A | B | change)")
        for call, g in rows.groupby("detail"):
            ga, gb = g["gas"].mean(), mine.loc[g.index, "gas"].mean()
            print(f"  {call}: {ga:,.0f} | {gb:,.0f} | {100 * (gb / ga - 1):+.2f} %")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
