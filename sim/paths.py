"""Where baasim keeps files that outlive a run (data, trained models, evaluations, compiled
contracts), and the cross-process lock that lets concurrent runs share them."""

from __future__ import annotations

import contextlib
import fcntl
import os
import tempfile
from collections.abc import Iterator
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


@contextlib.contextmanager
def exclusive(lock_path: Path) -> Iterator[None]:
    """Hold an advisory ``flock`` on ``lock_path`` (created if missing) across processes.

    Cache writers use it per entry: whoever holds it computes and stores a missing entry,
    the others wait and then read it, so concurrent runs compute each entry once.
    """
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with lock_path.open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def atomic_write(path: Path, data: bytes | str, prefix: str = ".tmp-") -> None:
    """Write ``path`` atomically: a temporary file beside it (``prefix`` + name), renamed into
    place; a failed write leaves neither a partial file nor the temporary one."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f"{prefix}{path.name}.")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data.encode() if isinstance(data, str) else data)
        Path(tmp).replace(path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
