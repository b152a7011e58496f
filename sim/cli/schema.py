"""``baasim schema``: print the scenario reference (Markdown), or write it into README.md."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

START, END = "<!-- schema:start -->", "<!-- schema:end -->"


def register(sub: Any) -> None:
    p = sub.add_parser("schema", help="print the scenario file reference (Markdown)")
    p.add_argument("--update", metavar="README", help="replace the reference section of README")
    p.set_defaults(func=run)


def splice(text: str, reference: str) -> str:
    """``text`` with the part between the schema markers replaced by ``reference``."""
    from sim.errors import ConfigError

    if START not in text or END not in text:
        raise ConfigError(f"schema --update: the file has no {START} … {END} markers")
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{START}\n{reference}{END}{tail}"


def run(args: argparse.Namespace) -> int:
    from sim.schema import render

    if args.update:
        path = Path(args.update)
        path.write_text(splice(path.read_text(), render()))
        print(f"updated the scenario reference in {path}")
        return 0
    print(render(), end="")
    return 0
