"""Running a plan: skip finished runs, hand the rest to an executor, keep every outcome.

``run_sweep(plan, DIR, executor)`` takes the sweep directory's lock, writes the plan, and
gives the executor only the runs without a finished run directory (so running the same
command again resumes, re-doing missing and failed runs). Every outcome is saved
(``SweepDir.save``: atomically) before the progress bar counts it. At the end it writes
``runs.parquet`` and ``events.parquet`` (``sim.sweep.tables.write_tables``).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from sim.sweep.plan import Job, Plan
from sim.sweep.store import SweepDir
from sim.sweep.tables import write_tables
from sim.sweep.worker import Outcome


class Executor(Protocol):
    """Runs jobs somewhere and reports each outcome, in this process, as it arrives."""

    def describe(self) -> str: ...

    def run(self, jobs: Iterable[Job], on_outcome: Callable[[Outcome], None]) -> None: ...


def kept(executor: Executor) -> contextlib.AbstractContextManager[Any]:
    """Keep the executor's workers between ``run`` calls for the block, where it can (local
    worker processes: ``LocalExecutor.kept``; a Dask cluster's workers outlive calls anyway)."""
    keep = getattr(executor, "kept", None)
    return keep() if callable(keep) else contextlib.nullcontext()


@dataclass(frozen=True)
class SweepStatus:
    """What one ``run_sweep`` call did."""

    out: Path
    total: int
    skipped: int
    """Runs already finished before this call (not run again)."""
    done: int
    failed: int
    wall_s: float
    runs_table: Path | None = None
    events_table: Path | None = None

    @property
    def ok(self) -> bool:
        return self.failed == 0 and self.skipped + self.done == self.total


class Progress:
    """Counts finished and failed runs; draws a bar with done / failed / remaining and ETA."""

    def __init__(self, total: int, skipped: int, desc: str, show: bool):
        self.total = total
        self.done = 0
        self.failed = 0
        self.skipped = skipped
        self._bar: Any = None
        if show:
            from tqdm import tqdm

            self._bar = tqdm(
                total=total, initial=skipped, unit="run", desc=desc, dynamic_ncols=True
            )
            self._postfix()

    @property
    def remaining(self) -> int:
        return self.total - self.skipped - self.done - self.failed

    def count(self, outcome: Outcome) -> None:
        if outcome.ok:
            self.done += 1
        else:
            self.failed += 1
        if self._bar is not None:
            self._postfix(refresh=False)
            self._bar.update(1)

    def _postfix(self, refresh: bool = True) -> None:
        self._bar.set_postfix_str(
            f"done={self.skipped + self.done} failed={self.failed} left={self.remaining}",
            refresh=refresh,
        )

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


def run_sweep(
    plan: Plan,
    out: str | Path,
    executor: Executor,
    *,
    threads: int | None = None,
    progress: bool = True,
    echo: Callable[[str], None] = print,
) -> SweepStatus:
    """Run every unfinished run of ``plan`` into the sweep directory ``out``."""
    start = time.perf_counter()
    store = SweepDir(out)
    with store.lock():
        store.prepare(plan)
        jobs = plan.jobs(threads)
        finished = store.finished()
        todo = [j for j in jobs if j.run_id not in finished]
        skipped = len(jobs) - len(todo)
        echo(
            f"sweep {plan.spec.name}: {len(plan.points)} point(s) × {len(plan.seeds)} seed(s) "
            f"= {len(jobs)} run(s); {skipped} already finished, {len(todo)} to run on "
            f"{executor.describe()}"
        )
        values = {p.index: p.values for p in plan.points}
        counter = Progress(len(jobs), skipped, plan.spec.name, progress)

        def keep(outcome: Outcome) -> None:
            store.save(outcome, values[outcome.point])
            counter.count(outcome)

        try:
            if todo:
                executor.run(todo, keep)
        finally:
            counter.close()
        runs_path, events_path = write_tables(store.root)
    return SweepStatus(
        store.root, len(jobs), skipped, counter.done, counter.failed,
        time.perf_counter() - start, runs_path, events_path,
    )  # fmt: skip
