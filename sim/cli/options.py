"""Options several sub-commands share, declared once so they read and behave alike."""

from __future__ import annotations

from typing import Any


def add_set_option(parser: Any, help: str) -> None:
    """``--set KEY.PATH=VALUE`` (repeatable): scenario overrides in TOML syntax."""
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY.PATH=VALUE",
        help=help,
    )
