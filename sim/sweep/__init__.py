"""Monte Carlo sweeps: parameter grids × seeds, run in local processes or on a Dask cluster.

- ``spec``: sweep files (``load_sweep``), the ``SweepSpec`` they give, and ``grid``, the pure
  function that expands a spec into points;
- ``plan``: ``build_plan(spec)`` validates every point as a ``Scenario`` and lists the runs;
- ``worker``: ``run_job``, what a worker does with one run;
- ``local`` / ``cluster``: executors (spawned local processes; Dask distributed);
- ``store``: the sweep directory, where every outcome is written atomically;
- ``execute``: ``run_sweep(plan, DIR, executor)``, resumable.

Statistics and reports on the results live in ``analysis`` (they read tables only).
"""

from __future__ import annotations

from sim.sweep.cluster import DaskExecutor
from sim.sweep.execute import Executor, SweepStatus, run_sweep
from sim.sweep.local import LocalExecutor
from sim.sweep.plan import Job, Plan, Point, build_plan
from sim.sweep.spec import Axis, SweepSpec, Values, expand, grid, load_sweep, spec_from_table
from sim.sweep.store import SweepDir
from sim.sweep.worker import Outcome, run_job

__all__ = [
    "Axis",
    "DaskExecutor",
    "Executor",
    "Job",
    "LocalExecutor",
    "Outcome",
    "Plan",
    "Point",
    "SweepDir",
    "SweepSpec",
    "SweepStatus",
    "Values",
    "build_plan",
    "expand",
    "grid",
    "load_sweep",
    "run_job",
    "run_sweep",
    "spec_from_table",
]
