"""``baasim report DIR``: write the HTML report of a sweep directory."""

from __future__ import annotations

import argparse
from typing import Any

from sim.errors import ConfigError


def register(sub: Any) -> None:
    p = sub.add_parser("report", help="write the HTML report of a sweep directory")
    p.add_argument("dir", help="a sweep's output directory (baasim sweep --out DIR)")
    p.add_argument("--out", default=None, help="report directory (default: DIR/report)")
    p.add_argument(
        "--level", type=float, default=0.95, help="confidence level of the intervals (0.95)"
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from analysis.runs import ResultsError
    from sim.sweep.tables import write_report

    if not 0 < args.level < 1:
        raise ConfigError(f"--level: expected a fraction in (0, 1), got {args.level}")
    try:
        index = write_report(args.dir, args.out, level=args.level)
    except ResultsError as err:
        raise ConfigError(str(err)) from err
    print(f"report: {index}")
    return 0
