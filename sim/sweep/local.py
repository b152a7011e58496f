"""Running a sweep's jobs in local worker processes (the default executor).

Each worker is a process started with the ``spawn`` context (a fresh interpreter: no state
inherited from the parent) that runs one job at a time and sends back its ``Outcome``. The
parent knows which job each worker holds, so a worker that dies (killed, out of memory)
costs exactly that run, which is recorded as failed, and a fresh worker takes its place.
Workers ignore SIGINT: on Ctrl-C the parent stops them and keeps every run already saved.
Workers start with ``WORKER_ENV`` (malloc settings that spare torch's page faults) and, after
their first job, freeze their long-lived objects out of the garbage collector's scans.
Inside ``with executor.kept():`` the workers outlive each ``run`` call, so a study that runs
many small batches (``baasim tune``) starts its workers, and imports torch in them, once.
"""

from __future__ import annotations

import contextlib
import gc
import multiprocessing as mp
import os
import signal
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess

from contracts.errors import InvariantViolation
from sim.errors import ConfigError
from sim.sweep.plan import Job
from sim.sweep.worker import WORKER_ENV, Outcome, run_job

JobFunction = Callable[[Job], Outcome]
OnOutcome = Callable[[Outcome], None]


def default_workers() -> int:
    """One worker per core this process may use."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _serve(conn: Connection, function: JobFunction) -> None:
    """A worker process's loop: receive a job, run it, send its outcome; None ends it."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides what Ctrl-C stops
    frozen = False
    while True:
        try:
            job = conn.recv()
        except (EOFError, OSError):
            return
        if job is None:
            # Every outcome has been sent and a worker writes nothing else: skip the
            # interpreter's teardown of torch and friends (~0.8 s the parent would wait for).
            conn.close()
            os._exit(0)
        outcome = function(job)
        if not frozen:
            # After the first job, what survives a full collection is this process's
            # long-lived state (modules, torch, compiled contracts). Freezing it once, out of
            # the collector's view, makes every later collection scan only newer objects: a
            # full collection took ~0.2 s per run at quick-scenario scale, a quarter of a
            # short run. Only once: anything frozen is never collected, so a run's garbage
            # must never be (freezing after every job leaked each run's world).
            gc.collect()
            gc.freeze()
            frozen = True
        conn.send(outcome)


@contextlib.contextmanager
def _environment(values: Mapping[str, str]) -> Iterator[None]:
    """Set environment variables for the duration of the block, then restore them."""
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@dataclass
class _Worker:
    process: BaseProcess
    conn: Connection
    job: Job | None = None


class LocalExecutor:
    """Runs jobs in ``workers`` spawned processes, one job per process at a time."""

    def __init__(self, workers: int | None = None, function: JobFunction = run_job):
        self.workers = default_workers() if workers is None else workers
        if self.workers < 1:
            raise ConfigError(f"--workers: expected an integer >= 1, got {self.workers}")
        self.function = function
        self._ctx = mp.get_context("spawn")
        self._started = 0
        self._kept: list[_Worker] | None = None
        """The pool kept between ``run`` calls inside ``kept()``; None outside it."""

    @property
    def started(self) -> int:
        """Worker processes started so far (by every ``run`` call)."""
        return self._started

    def describe(self) -> str:
        return f"{self.workers} local worker process{'es' if self.workers > 1 else ''}"

    @contextlib.contextmanager
    def kept(self) -> Iterator[None]:
        """Keep the worker processes between ``run`` calls until the block ends (a worker's
        start, a fresh interpreter importing torch, costs more than a tiny run)."""
        self._kept = []
        finished = False
        try:
            yield
            finished = True
        finally:
            pool, self._kept = self._kept, None
            self._stop(pool, graceful=finished)

    def run(self, jobs: Iterable[Job], on_outcome: OnOutcome) -> None:
        """Run every job; call ``on_outcome`` in this process as each one ends."""
        queue = deque(jobs)
        pool = self._pool(len(queue))
        finished = False
        try:
            for w in pool:
                self._feed(w, queue)
            while busy := [w for w in pool if w.job is not None]:
                ready = set(wait([w.conn for w in busy] + [w.process.sentinel for w in busy]))
                for w in busy:
                    if w.conn in ready or w.process.sentinel in ready:
                        outcome = self._collect(w)
                        current = w
                        if not w.process.is_alive():
                            current = self._replace(w, bool(queue))
                            pool[pool.index(w)] = current
                        on_outcome(outcome)
                        self._feed(current, queue)
            finished = True
        finally:
            if self._kept is None:
                self._stop(pool, graceful=finished)
            elif finished:
                self._kept = pool
            else:  # interrupted: a worker may still hold a job; the pool is not reused
                self._kept = []
                self._stop(pool, graceful=False)

    def _pool(self, jobs: int) -> list[_Worker]:
        """Fresh workers for ``jobs`` jobs, or (inside ``kept()``) the kept pool's live
        workers, topped up to ``workers``."""
        if self._kept is None:
            return [self._start() for _ in range(min(self.workers, jobs))]
        live = [w for w in self._kept if w.process.is_alive()]
        for w in self._kept:
            if w not in live:
                w.process.join()
                w.conn.close()
        return live + [self._start() for _ in range(self.workers - len(live))]

    def _start(self) -> _Worker:
        parent, child = self._ctx.Pipe()
        self._started += 1
        process = self._ctx.Process(
            target=_serve,
            args=(child, self.function),
            name=f"baasim-sweep-worker-{self._started}",
            daemon=True,
        )
        with _environment(WORKER_ENV):  # a spawned process inherits os.environ as it starts
            process.start()
        child.close()
        return _Worker(process, parent)

    def _replace(self, dead: _Worker, needed: bool) -> _Worker:
        dead.process.join()
        dead.conn.close()
        return self._start() if needed else _Worker(dead.process, dead.conn)

    @staticmethod
    def _feed(w: _Worker, queue: deque[Job]) -> None:
        w.job = None
        if queue and w.process.is_alive():
            w.job = queue.popleft()
            # a worker that died since is_alive() is seen by its sentinel; the job is then
            # recorded as failed like any job a dying worker held
            with contextlib.suppress(OSError):
                w.conn.send(w.job)

    @staticmethod
    def _collect(w: _Worker) -> Outcome:
        """The outcome ``w`` sent, or a failure if it died before sending one."""
        job = w.job
        if job is None:
            raise InvariantViolation("collecting an outcome from an idle worker")
        try:
            if w.conn.poll():
                outcome: Outcome = w.conn.recv()
                return outcome
        except (EOFError, OSError):
            pass
        w.process.join(timeout=5)
        code = w.process.exitcode
        how = f"killed by signal {-code}" if code is not None and code < 0 else f"exit code {code}"
        return Outcome.failure(
            job, f"WorkerDied: worker process {w.process.name} died ({how}) during this run"
        )

    @staticmethod
    def _stop(pool: list[_Worker], *, graceful: bool) -> None:
        for w in pool:
            if w.process.is_alive():
                if graceful:
                    try:
                        w.conn.send(None)
                    except OSError:
                        w.process.terminate()
                else:
                    w.process.terminate()
        for w in pool:
            w.process.join(timeout=10)
            if w.process.is_alive():
                w.process.kill()
                w.process.join()
            w.conn.close()
