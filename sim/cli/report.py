"""``baasim report DIR``: write the HTML report of a sweep directory."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from sim.errors import ConfigError


def register(sub: Any) -> None:
    p = sub.add_parser(
        "report", help="write the HTML report of a sweep directory (or of adaptive runs)"
    )
    p.add_argument(
        "dir",
        help="a sweep's output directory (baasim sweep --out DIR), or runs of a scenario "
        "with [adaptation] (baasim run --out DIR: one run or its seed-N/ directories)",
    )
    p.add_argument("--out", default=None, help="report directory (default: DIR/report)")
    p.add_argument(
        "--level", type=float, default=0.95, help="confidence level of the intervals (0.95)"
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from analysis.adaptation import render_shares_page
    from analysis.runs import ResultsError
    from sim.sweep.tables import write_files, write_report

    if not 0 < args.level < 1:
        raise ConfigError(f"--level: expected a fraction in (0, 1), got {args.level}")
    if not (Path(args.dir) / "sweep.json").is_file():
        shares = render_shares_page(args.dir, level=args.level)
        if shares is not None:
            print(f"report: {write_files(args.dir, args.out, shares)}")
            return 0
    try:
        index = write_report(args.dir, args.out, level=args.level)
    except ResultsError as err:
        raise ConfigError(str(err)) from err
    print(f"report: {index}")
    return 0
