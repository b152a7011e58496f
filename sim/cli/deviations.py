"""``baasim deviations SCENARIO --seeds N --out DIR``: does any agent gain by deviating?

For every role and every registered non-honest kind of it (or those chosen), runs the base
scenario and the scenario with one agent (or ``--coalition`` agents) switched to the kind, on
the same seeds and common random numbers, then reports each deviation's paired gain with its
95 % interval and verdict (``sim.sweep.deviations``). Runs go to local worker processes or to
Dask, like ``baasim sweep``; re-running resumes.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from sim.cli.options import add_set_option
from sim.cli.sweep import _key_value, executor_and_threads, parse_seeds, run_study
from sim.errors import ConfigError


def register(sub: Any) -> None:
    p = sub.add_parser(
        "deviations",
        help="does honesty pay? paired runs of every deviation kind against the base",
        description="Run the base scenario and each deviation on the same seeds into DIR; "
        "write deviations.parquet, deviations.json and deviations/index.html. Re-running "
        "resumes.",
    )
    p.add_argument("scenario", help="scenario TOML file (see scenarios/)")
    p.add_argument("--seeds", default=None, help="a count (5: seeds 0-4) or a list (1,2,3)")
    p.add_argument("--out", default=None, metavar="DIR", help="default: results/<name>-deviations")
    p.add_argument("--role", action="append", default=[], help="only this role (repeatable)")
    p.add_argument("--kinds", default=None, help="only these kinds: a,b (default: all)")
    p.add_argument(
        "--agents",
        default=None,
        metavar="K[,K...]",
        help="pin the deviators to these positions of the role (default: chosen per seed "
        "from the run's own streams)",
    )
    p.add_argument(
        "--coalition",
        type=int,
        default=None,
        metavar="SIZE",
        help="SIZE agents of the role deviate together (default 1)",
    )
    add_set_option(p, "change a scenario value for every run (TOML syntax)")
    p.add_argument("--workers", type=int, default=None, help="worker processes (default: cores)")
    p.add_argument(
        "--scheduler",
        default=None,
        metavar="ADDRESS|local",
        help="run on Dask (as baasim sweep --scheduler)",
    )
    p.add_argument("--threads", type=int, default=None, help="torch threads per run")
    p.add_argument("--dry-run", action="store_true", help="validate and list the deviations")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from sim.sweep.deviations import build_deviation_plan, describe_plan

    dplan = build_deviation_plan(
        args.scenario,
        parse_seeds(args.seeds) if args.seeds is not None else None,
        roles=args.role or None,
        kinds=_list(args.kinds),
        agents=_positions(args.agents),
        coalition=args.coalition,
        overrides=dict(_key_value(s, "--set") for s in args.overrides),
    )
    if args.dry_run or not dplan.deviations:
        print("\n".join(describe_plan(dplan)))
        if not dplan.deviations:
            print("baasim deviations: no deviation applies; nothing to run")
            return 1
        return 0
    executor, threads = executor_and_threads(args)
    out = Path(args.out) if args.out else Path("results") / dplan.plan.spec.name
    return run_study("baasim deviations", dplan, out, executor, threads, not args.quiet)


def _list(text: str | None) -> list[str] | None:
    return [k.strip() for k in text.split(",") if k.strip()] if text else None


def _positions(text: str | None) -> list[int] | None:
    if text is None:
        return None
    try:
        return [int(k) for k in text.split(",") if k.strip()]
    except ValueError:
        raise ConfigError(f"--agents: expected positions such as 2 or 0,3, got {text!r}") from None
