"""``baasim sensitivity FILE --out DIR``: Sobol or Morris indices of run metrics (SALib).

The sensitivity file names the base scenario, the parameters and their ranges, the outputs
(run metrics), the method and the sample size (``sim.sweep.sensitivity``). Runs go through
the sweep executors; re-running resumes.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from sim.cli.sweep import executor_and_threads, resumable
from sim.cli.tune import add_executor_options


def register(sub: Any) -> None:
    p = sub.add_parser(
        "sensitivity",
        help="which parameters explain a metric's variance (SALib: Sobol, Morris)",
        description="Run the sensitivity FILE's sample into DIR and write its indices and "
        "report; re-running resumes.",
    )
    p.add_argument("file", help="sensitivity TOML file (see scenarios/sensitivity/)")
    p.add_argument("--out", default=None, metavar="DIR", help="default: results/<name>")
    add_executor_options(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from analysis.search import explain
    from sim.sweep.sensitivity import load_sensitivity, run_sensitivity

    spec = load_sensitivity(args.file)
    executor, threads = executor_and_threads(args)
    out = Path(args.out) if args.out else Path("results") / spec.name
    status = resumable(
        "baasim sensitivity",
        out,
        lambda: run_sensitivity(spec, out, executor, threads=threads, progress=not args.quiet),
    )
    if status is None:
        return 130
    print(f"{status.samples} sample(s), {status.runs} run(s).")
    for output, rows in status.indices.groupby("output", sort=False):
        print(f"{output}: {explain(rows, spec.method)}")
    for output, note in status.notes.items():
        print(f"{output}: {note}")
    print(f"report: {status.page}")
    return 0
