"""``baasim demo``: the README's main job — the default scenario, its summary, its outputs.

Runs ``scenarios/paper.toml`` (the paper's setting on full MNIST) when full MNIST is already
fetched (``baasim data fetch mnist``), otherwise ``scenarios/quick.toml`` (mnist-5k, about a
minute on 2 cores).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def register(sub: Any) -> None:
    p = sub.add_parser("demo", help="run the default scenario and print a summary")
    p.add_argument("--seed", type=int, default=None, help="RNG seed (default: the scenario's)")
    p.add_argument("--out", default=None, help="output directory (default: results/<scenario>)")
    p.add_argument(
        "--scenario", default=None, help="scenario file (default: paper.toml or quick.toml)"
    )
    p.set_defaults(func=run)


def scenarios_dir() -> Path:
    """The shipped scenarios: ./scenarios, else the one beside the installed sources."""
    here = Path("scenarios")
    if here.is_dir():
        return here
    return Path(__file__).resolve().parents[2] / "scenarios"


def default_scenario() -> Path:
    from sim.learning.fetch import mnist_cache_file

    name = "paper.toml" if mnist_cache_file().is_file() else "quick.toml"
    return scenarios_dir() / name


def run(args: argparse.Namespace) -> int:
    from sim.cli import run as run_cmd

    scenario = Path(args.scenario) if args.scenario else default_scenario()
    print(f"baasim demo: running {scenario}")
    # the run command's own parser gives every option its default (a new option of
    # `baasim run` cannot leave the demo without it)
    parser = argparse.ArgumentParser(prog="baasim")
    run_cmd.register(parser.add_subparsers())
    argv = ["run", str(scenario)]
    argv += ["--seed", str(args.seed)] if args.seed is not None else []
    argv += ["--out", str(args.out)] if args.out else []
    status: int = run_cmd.run(parser.parse_args(argv))
    return status
