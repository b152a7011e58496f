"""Running a sweep's jobs on a Dask distributed cluster.

``DaskExecutor("tcp://host:8786")`` submits every job to an existing scheduler;
``DaskExecutor(None, workers=N)`` starts a ``LocalCluster`` of N single-threaded worker
processes on loopback for the duration of the sweep. Each job is one task running
``sim.sweep.worker.run_job``; its outcome (the run's files as bytes) comes back to this
process, which writes it into the sweep directory, so workers need no shared file system:
only the installed baasim package and a training cache. Point every worker of one machine
at the same ``$BAASIM_CACHE`` (it is safe across processes) so each distinct model is
trained once per machine, or at a shared file system for once per cluster. A LocalCluster's
workers start with ``WORKER_ENV``; give a cluster's workers the same environment
(``distributed.nanny.pre-spawn-environ``) for the same speed.
"""

from __future__ import annotations

import contextlib
import logging
import os
import traceback
import uuid
from collections.abc import Callable, Iterable
from typing import Any

from sim.errors import ConfigError
from sim.sweep.local import OnOutcome, default_workers
from sim.sweep.plan import Job
from sim.sweep.worker import WORKER_ENV, Outcome, run_job


class DaskExecutor:
    """Runs jobs as Dask tasks, one run per task.

    ``address``: a scheduler's address (``tcp://host:8786``), or None to start a LocalCluster
    of ``workers`` processes; ``timeout_s``: how long to try to reach the scheduler.
    """

    def __init__(
        self, address: str | None = None, workers: int | None = None, timeout_s: float = 20.0
    ):
        self.address = address
        self.timeout_s = timeout_s
        self.workers = default_workers() if workers is None else workers
        if self.workers < 1:
            raise ConfigError(f"--workers: expected an integer >= 1, got {self.workers}")

    def describe(self) -> str:
        if self.address is None:
            return f"a Dask LocalCluster of {self.workers} worker process(es) on 127.0.0.1"
        return f"the Dask cluster at {self.address}"

    def run(self, jobs: Iterable[Job], on_outcome: OnOutcome) -> None:
        """Submit every job; call ``on_outcome`` here as each one ends, in any order."""
        jobs = list(jobs)
        if not jobs:
            return
        with contextlib.ExitStack() as stack:
            client = self._client(stack)
            token = uuid.uuid4().hex[:8]
            futures = {
                client.submit(run_job, job, key=f"baasim-{job.run_id}-{token}", pure=False): job
                for job in jobs
            }
            try:
                self._gather(futures, on_outcome)
            finally:
                if futures:
                    client.cancel(list(futures))

    def _client(self, stack: contextlib.ExitStack) -> Any:
        return dask_client(self.address, self.workers, stack, self.timeout_s)

    @staticmethod
    def _gather(futures: dict[Any, Job], on_outcome: OnOutcome) -> None:
        from distributed import as_completed

        for future in as_completed(list(futures)):
            job = futures.pop(future)
            try:
                outcome: Outcome = future.result()
            except Exception as err:  # the task never returned: a killed worker, a lost node
                outcome = Outcome.failure(job, err, traceback.format_exc())
            on_outcome(outcome)
            future.release()


def dask_client(
    address: str | None, workers: int, stack: contextlib.ExitStack, timeout_s: float = 20.0
) -> Any:
    """A Dask ``Client`` of the scheduler at ``address``, or of a LocalCluster of ``workers``
    single-threaded worker processes on loopback (None), closed when ``stack`` closes."""
    try:
        from distributed import Client, LocalCluster
    except ImportError as err:  # pragma: no cover - a dependency of baasim
        raise ConfigError(
            "--scheduler: Dask is not installed; pip install 'dask[distributed]'"
        ) from err
    if address is None:
        import dask

        environ = dask.config.get("distributed.nanny.pre-spawn-environ", {}) | WORKER_ENV
        stack.enter_context(dask.config.set({"distributed.nanny.pre-spawn-environ": environ}))
        # put this process's environment back once the cluster is up (its start changes it)
        # and again once it is closed (a callback entered before the cluster runs after it)
        restore = kept_environment([*environ, "PYTHONHASHSEED"])
        stack.callback(restore)
        cluster = stack.enter_context(
            LocalCluster(
                n_workers=workers,
                threads_per_worker=1,
                processes=True,
                host="127.0.0.1",
                dashboard_address=None,
                # no dashboard; its health endpoints on a free loopback port, not :8787
                scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},
                silence_logs=logging.ERROR,
            )
        )
        restore()
        return stack.enter_context(Client(cluster))
    try:
        return stack.enter_context(Client(address, timeout=f"{timeout_s}s"))
    except (OSError, TimeoutError) as err:
        raise ConfigError(f"--scheduler {address}: cannot reach the Dask scheduler: {err}") from err


def kept_environment(keys: Iterable[str]) -> Callable[[], None]:
    """A function that puts back, as they are now, the variables of ``os.environ`` named
    in ``keys`` and every one that has changed by the time it is first called.

    Dask changes the environment of the process that starts a LocalCluster, not only its
    workers': each nanny writes its ``pre-spawn-environ`` (``OMP_NUM_THREADS=1`` among them,
    and ``PYTHONHASHSEED``) into ``os.environ`` before it spawns a worker, and again when it
    restarts one; the cluster marks this process as a parent (``__DASK_PARENT_PID``). Left
    there, every process started afterwards (a fresh ``baasim run``, a sweep's spawned
    workers) would take one torch thread, train other last bits than this process and
    publish other model CIDs.
    """
    saved = dict(os.environ)
    watched = set(keys)
    first = True

    def restore() -> None:
        nonlocal first
        if first:
            first = False
            changed = saved.keys() | os.environ.keys()
            watched.update(k for k in changed if os.environ.get(k) != saved.get(k))
        for k in watched:
            if (v := saved.get(k)) is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v

    return restore
