"""``baasim check FILE``: validate a scenario file without running it."""

from __future__ import annotations

import argparse
from typing import Any


def register(sub: Any) -> None:
    p = sub.add_parser("check", help="validate scenario files without running them")
    p.add_argument("files", nargs="+", help="scenario TOML files")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from sim.runner import resolve

    for path in args.files:
        scenario = resolve(path, args.overrides)
        tasks = sum(t.count for t in scenario.tasks)
        pop = scenario.population
        print(
            f"{path}: ok ({scenario.name}: {tasks} task(s), {pop.contributors} contributors, "
            f"{pop.verifiers} verifiers, data {scenario.data.dataset}, "
            f"hash {scenario.digest[:12]})"
        )
    return 0
