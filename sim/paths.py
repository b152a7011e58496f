"""Where baasim keeps files that outlive a run (data, trained models, evaluations, compiled
contracts), the cross-process lock that lets concurrent runs share them, and the one way
baasim writes a file: atomically (``atomic_write``, ``atomic_path``)."""

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


@contextlib.contextmanager
def atomic_path(path: Path, prefix: str = ".tmp-") -> Iterator[Path]:
    """A temporary path beside ``path`` (``prefix`` + name) to write to; renamed onto ``path``
    when the block ends normally, removed when it raises: a reader never sees half a file."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f"{prefix}{path.name}.")
    os.close(fd)
    try:
        yield Path(tmp)
        Path(tmp).replace(path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write(path: Path, data: bytes | str, prefix: str = ".tmp-") -> None:
    """Write ``data`` to ``path`` atomically (through ``atomic_path``)."""
    with atomic_path(path, prefix) as tmp:
        tmp.write_bytes(data.encode() if isinstance(data, str) else data)


def write_page(out_dir: Path, files: dict[str, bytes], index: str = "index.html") -> Path:
    """Write a rendered page's ``files`` into ``out_dir``, each atomically, the ``index``
    last (so its links resolve as soon as it exists); its path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        if name != index:
            atomic_write(out_dir / name, data)
    atomic_write(out_dir / index, files[index])
    return out_dir / index
