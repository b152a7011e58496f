"""``baasim report DIR``: write the HTML report of a sweep directory or of one run; for runs
of a scenario with ``[adaptation]`` also (or only, for its ``seed-N/`` directories) the page
of strategy shares over time."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from sim.errors import ConfigError


def register(sub: Any) -> None:
    p = sub.add_parser("report", help="write the HTML report of a sweep or of one run")
    p.add_argument(
        "dir",
        help="a sweep's output directory (baasim sweep --out DIR), a run's (baasim run --out), "
        "or the seed-N/ run directories of a scenario with [adaptation]",
    )
    p.add_argument("--out", default=None, help="report directory (default: DIR/report)")
    p.add_argument(
        "--level",
        type=float,
        default=0.95,
        help="confidence level of a sweep report's intervals (0.95)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from analysis.adaptation import render_shares_page
    from analysis.run_tables import RunError, is_run_dir
    from analysis.runs import ResultsError
    from sim.runner import write_run_report
    from sim.sweep.tables import write_files, write_report

    if not 0 < args.level < 1:
        raise ConfigError(f"--level: expected a fraction in (0, 1), got {args.level}")
    root = Path(args.dir)
    if not root.is_dir():
        raise ConfigError(f"{root}: no such directory")
    sweep = (root / "sweep.json").is_file()
    try:
        if sweep:
            index = write_report(root, args.out, level=args.level)
        elif is_run_dir(root):
            index = write_run_report(root, args.out)
        else:
            index = None
        if not sweep:
            # runs with [adaptation] (one, or its seed-N/ directories): strategy shares
            shares = render_shares_page(root, level=args.level)
            if shares is not None:
                out = Path(args.out) if args.out else root / "report"
                where = write_files(root, out / "shares" if index else out, shares)
                print(f"strategy shares: {where}")
                index = index or where
    except ResultsError as err:
        raise ConfigError(str(err)) from err
    except RunError as err:
        raise ConfigError(str(err)) from err
    if index is None:
        raise ConfigError(
            f"{root}: neither a sweep directory (no sweep.json) nor a run directory "
            "(no events.parquet) nor runs of a scenario with [adaptation]"
        )
    print(f"report: {index}")
    return 0
