"""``baasim schema``: print the scenario reference (Markdown) generated from the config classes."""

from __future__ import annotations

import argparse
from typing import Any


def register(sub: Any) -> None:
    p = sub.add_parser("schema", help="print the scenario file reference (Markdown)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from sim.schema import render

    print(render(), end="")
    return 0
