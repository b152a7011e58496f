"""The sweep directory: where finished and failed runs are kept, each written atomically.

Layout of ``DIR``::

    sweep.json             the plan as plain data (points, values, seeds, run ids)
    sweep.toml             the sweep definition (re-run it: baasim sweep DIR/sweep.toml)
    runs/<run-id>/         one finished run: events.parquet, summary.json, series.parquet,
                           run.json (point, seed, values, worker, wall time)
    failed/<run-id>.json   one failed run: its error, traceback and worker
    runs.parquet           one row per run (built at the end of every sweep)
    events.parquet         every finished run's events, concatenated

A run directory is assembled under a hidden temporary name and renamed into place, so
``runs/<run-id>/`` exists only when the whole run is there: that is what "finished" means,
and a finished run is never run again. A lock file keeps two sweeps from writing one
directory at once.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import tempfile
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from sim.errors import ConfigError
from sim.paths import atomic_write
from sim.sweep.plan import Plan, plain
from sim.sweep.spec import to_toml
from sim.sweep.worker import Outcome

_TMP = ".tmp-"


class SweepDir:
    """One sweep's output directory."""

    def __init__(self, root: str | Path):
        self.root = Path(root)
        self.runs = self.root / "runs"
        self.failed = self.root / "failed"

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """Hold the directory's lock; ConfigError if another sweep holds it."""
        self.root.mkdir(parents=True, exist_ok=True)
        with (self.root / ".lock").open("a") as f:
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise ConfigError(
                    f"--out {self.root}: another baasim sweep is writing this directory"
                ) from None
            try:
                yield
            finally:
                fcntl.flock(f, fcntl.LOCK_UN)

    def prepare(self, plan: Plan) -> None:
        """Create the folders, drop half-written leftovers, and write the plan."""
        self.runs.mkdir(parents=True, exist_ok=True)
        self.failed.mkdir(parents=True, exist_ok=True)
        for leftover in self.runs.glob(f"{_TMP}*"):
            shutil.rmtree(leftover, ignore_errors=True)
        for folder in (self.root, self.failed):
            for leftover in folder.glob(f"{_TMP}*"):
                leftover.unlink(missing_ok=True)
        write_text(self.root / "sweep.json", json.dumps(plan.to_table(), indent=1) + "\n")
        write_text(self.root / "sweep.toml", to_toml(plan.spec))

    def finished(self) -> set[str]:
        """Run ids of the finished runs (whole run directories)."""
        if not self.runs.is_dir():
            return set()
        return {
            p.name
            for p in self.runs.iterdir()
            if not p.name.startswith(".") and (p / "summary.json").is_file()
        }

    def save(self, outcome: Outcome, values: Mapping[str, Any]) -> None:
        """Keep ``outcome``: a finished run's directory, or a failed run's record."""
        if outcome.ok:
            self._save_run(outcome, values)
            (self.failed / f"{outcome.run_id}.json").unlink(missing_ok=True)
        else:
            self._save_failure(outcome, values)

    def _save_run(self, outcome: Outcome, values: Mapping[str, Any]) -> None:
        final = self.runs / outcome.run_id
        if final.exists():  # a duplicate of a run already kept (a retried cluster task)
            return
        tmp = Path(tempfile.mkdtemp(prefix=f"{_TMP}{outcome.run_id}-", dir=self.runs))
        try:
            for name, data in outcome.files.items():
                _write_synced(tmp / name, data)
            _write_synced(tmp / "run.json", _json(_record(outcome, values)))
            tmp.rename(final)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        _sync_dir(self.runs)

    def _save_failure(self, outcome: Outcome, values: Mapping[str, Any]) -> None:
        record = _record(outcome, values) | {
            "error": outcome.error,
            "traceback": outcome.traceback,
        }
        write_text(self.failed / f"{outcome.run_id}.json", _json(record).decode())


def _record(outcome: Outcome, values: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "run_id": outcome.run_id,
        "point": outcome.point,
        "seed": outcome.seed,
        "values": plain(dict(values)),
        "worker": outcome.worker,
        "wall_s": outcome.wall_s,
        "finished_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


def _json(obj: Any) -> bytes:
    return (json.dumps(obj, indent=2) + "\n").encode()


def write_text(path: Path, text: str) -> None:
    """Write ``path`` atomically (a temporary file renamed into place)."""
    atomic_write(path, text, prefix=_TMP)


def _write_synced(path: Path, data: bytes) -> None:
    with path.open("wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def _sync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
