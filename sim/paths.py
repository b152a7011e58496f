"""Where baasim keeps files that outlive a run: data, trained models, compiled contracts."""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir(*parts: str) -> Path:
    """``$BAASIM_CACHE`` (default ``~/.cache/baasim``) joined with ``parts``, created on demand."""
    root = os.environ.get("BAASIM_CACHE")
    if root:
        base = Path(root)
    else:
        xdg = os.environ.get("XDG_CACHE_HOME")
        base = (Path(xdg) if xdg else Path.home() / ".cache") / "baasim"
    path = base.joinpath(*parts)
    path.mkdir(parents=True, exist_ok=True)
    return path
