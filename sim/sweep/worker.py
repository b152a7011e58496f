"""What a worker does with one job: run it in a scratch folder and hand back its files.

``run_job`` is the one function local worker processes and Dask workers execute. It never
writes into the sweep directory: the run's outputs come back as bytes in an ``Outcome`` and
the sweep's client writes them, atomically, where they belong. So workers need nothing but
the installed package and a training cache (``$BAASIM_CACHE``, shared or per worker), and
a run that raises comes back as a failed outcome carrying its traceback.
"""

from __future__ import annotations

import gc
import os
import socket
import tempfile
import time
import traceback
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from contracts.errors import InvariantViolation
from sim.sweep.plan import Job

WORKER_ENV = {
    "MALLOC_MMAP_THRESHOLD_": str(32 * 2**20),
    "MALLOC_TRIM_THRESHOLD_": str(4 * 2**30),
}
"""Environment of worker processes: glibc's malloc keeps freed memory for reuse instead of
mapping and unmapping it, so torch's large transient tensors (activations, gathered data)
do not page-fault afresh on every forward pass. A paper-scale run spent ~40 % of its time
in such page faults (BENCHMARKS.md, Sweeps). glibc reads these at process start."""

RUN_FILES = ("events.parquet", "summary.json", "series.parquet")
"""The files of a finished run that a sweep keeps (the run's model store is left behind)."""


@dataclass(frozen=True)
class Outcome:
    """What came of one job: its output files, or the error that stopped it."""

    run_id: str
    point: int
    seed: int
    ok: bool
    files: Mapping[str, bytes] = field(default_factory=dict)
    error: str = ""
    traceback: str = ""
    wall_s: float = 0.0
    worker: str = ""
    """host:pid of the process that ran it."""

    @classmethod
    def failure(
        cls, job: Job, error: BaseException | str, tb: str = "", wall: float = 0.0, worker: str = ""
    ) -> Outcome:
        """A failed outcome of ``job``: the error's one-line text and the full traceback."""
        text = error if isinstance(error, str) else f"{type(error).__name__}: {error}"
        return cls(
            job.run_id, job.point, job.seed, False, error=text, traceback=tb, wall_s=wall,
            worker=worker,
        )  # fmt: skip


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def run_job(job: Job) -> Outcome:
    """Run ``job`` to completion; any exception becomes a failed outcome with its traceback."""
    from sim.learning.device import torch_threads  # torch: only in the process that runs jobs

    start = time.perf_counter()
    try:
        with torch_threads(job.threads):
            files = _run(job)
    except Exception as err:
        wall = time.perf_counter() - start
        return Outcome.failure(job, err, traceback.format_exc(), wall, worker_name())
    wall = time.perf_counter() - start
    return Outcome(job.run_id, job.point, job.seed, True, files, wall_s=wall, worker=worker_name())


def _run(job: Job) -> dict[str, bytes]:
    from sim.runner import run

    try:
        with tempfile.TemporaryDirectory(prefix=f"baasim-{job.run_id}-") as tmp:
            result = run(job.scenario, job.seed, out=tmp)
            if result.run_id != job.run_id:
                raise InvariantViolation(
                    f"run id {result.run_id!r} differs from the sweep's {job.run_id!r}"
                )
            return {name: (Path(tmp) / name).read_bytes() for name in RUN_FILES}
    finally:
        release()


def release() -> None:
    """Free what a finished run leaves behind in this long-lived worker process.

    The run's world (data set, models, chain) is held by reference cycles that wait for a
    full collection; collecting now keeps a worker's memory flat from run to run. (The run
    loop itself drops the model from Mesa's class-level id counters.)
    """
    gc.collect()
