"""Job functions for executor tests, importable by name in spawned worker processes.

Tests put this folder on ``sys.path`` (spawned workers inherit it) so that a worker can
unpickle these functions. They stand in for ``run_job`` where a test needs a job to do
something a real run never does on purpose: kill its own worker process.
"""

from __future__ import annotations

import os
import signal

from sim.sweep.plan import Job
from sim.sweep.worker import Outcome, worker_name


def die_on_odd_seeds(job: Job) -> Outcome:
    """SIGKILL this worker for odd seeds; otherwise 'finish' at once with a tiny summary."""
    if job.seed % 2:
        os.kill(os.getpid(), signal.SIGKILL)
    trim = os.environ.get("MALLOC_TRIM_THRESHOLD_", "0")
    summary = (
        f'{{"run_id": "{job.run_id}", "status": "completed", "score": {job.seed}, '
        f'"malloc_trim": {trim}}}'
    )
    return Outcome(
        job.run_id, job.point, job.seed, True, {"summary.json": summary.encode()},
        worker=worker_name(),
    )  # fmt: skip
