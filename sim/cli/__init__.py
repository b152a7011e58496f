"""The ``baasim`` command line: one sub-command per module of this package.

Each sub-command module defines ``register(subparsers)``, which adds its parser and sets
``func`` to a callable taking the parsed namespace and returning an exit status. Modules
are imported only when the CLI starts, so importing ``sim`` stays cheap.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from contracts.errors import BaasimError

# Sub-command modules, in the order ``baasim --help`` lists them.
COMMANDS: tuple[str, ...] = (
    "demo",
    "run",
    "sweep",
    "deviations",
    "tune",
    "sensitivity",
    "report",
    "dashboard",
    "check",
    "schema",
    "data",
    "reproduce",
    "smoke",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="baasim",
        description="Discrete-event multi-agent simulator of a blockchain deep-learning market",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"sim.cli.{name}").register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        status: int = args.func(args)
    except BaasimError as err:
        print(f"baasim {args.command}: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"baasim {args.command}: interrupted", file=sys.stderr)
        return 130
    return status


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
