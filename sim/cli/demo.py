"""``baasim demo``: the README's main job (for now a chain smoke run)."""

from __future__ import annotations

import argparse
from typing import Any


def register(sub: Any) -> None:
    p = sub.add_parser("demo", help="run the default job and print a summary")
    p.add_argument("--seed", type=int, default=0, help="RNG seed (default 0)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from sim.cli import smoke

    ns = argparse.Namespace(
        seed=args.seed, contributors=5, verifiers=7, committee=5, no_commit_reveal=False
    )
    return smoke.run(ns)
