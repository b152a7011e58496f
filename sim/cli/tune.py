"""``baasim tune FILE --out DIR``: the cheapest parameters that meet the constraints (Optuna).

The tune file names the base scenario, the parameters and their ranges, the objectives and
the constraints (``sim.sweep.tune``). Trials run through the sweep executors (local worker
processes, or Dask with ``--scheduler``); the study lives in DIR, so Ctrl-C and re-running
resume without losing a finished trial. ``baasim report DIR`` re-draws the page.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from sim.cli.sweep import executor_and_threads, resumable


def add_executor_options(p: Any) -> None:
    """``--workers``, ``--scheduler``, ``--threads``, ``--quiet``: as ``baasim sweep``."""
    p.add_argument("--workers", type=int, default=None, help="worker processes (default: cores)")
    p.add_argument(
        "--scheduler", default=None, metavar="ADDRESS|local", help="run on Dask (as baasim sweep)"
    )
    p.add_argument("--threads", type=int, default=None, help="torch threads per run")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def register(sub: Any) -> None:
    p = sub.add_parser(
        "tune",
        help="search parameters for objectives under constraints (Optuna), resumably",
        description="Run an Optuna study of the tune FILE into DIR; re-running resumes.",
    )
    p.add_argument("file", help="tune TOML file (see scenarios/tune/)")
    p.add_argument("--out", default=None, metavar="DIR", help="default: results/<tune name>")
    p.add_argument("--trials", type=int, default=None, help="trials in all (default: the file's)")
    add_executor_options(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from sim.errors import ConfigError
    from sim.sweep.tune import load_tune, run_tune

    spec = load_tune(args.file)
    if args.trials is not None and args.trials < 1:
        raise ConfigError(f"--trials: expected an integer >= 1, got {args.trials}")
    executor, threads = executor_and_threads(args)
    out = Path(args.out) if args.out else Path("results") / spec.name
    status = resumable(
        "baasim tune",
        out,
        lambda: run_tune(
            spec, out, executor, trials=args.trials, threads=threads, progress=not args.quiet
        ),
    )
    if status is None:
        return 130
    print(f"{status.trials} trial(s) in the study, {status.ran} finished now.")
    for row in status.best:
        shown = ", ".join(f"{k}={row[k]}" for k in spec.keys)
        goals = ", ".join(f"{o.metric}={row.get('objective.' + o.metric)}" for o in spec.objectives)
        print(f"best: trial {row['trial']}: {shown} -> {goals}")
    if not status.best:
        print("no feasible trial yet (no point met every constraint)")
    print(f"report: {status.page}")
    return 1 if status.failed_runs else 0
