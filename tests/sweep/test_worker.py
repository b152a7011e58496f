"""A worker process runs job after job: each comes back whole and leaves nothing behind."""

from __future__ import annotations

import gc
import json
from pathlib import Path

import mesa
import pytest

from sim.sweep import build_plan, run_job, spec_from_table
from sim.sweep.worker import RUN_FILES
from sim.world import World

TINY = Path(__file__).resolve().parents[1] / "data" / "tiny.toml"

pytestmark = pytest.mark.slow


def test_a_job_comes_back_as_files_and_leaves_no_world_alive() -> None:
    # a point of its own, so no other test's run shares the run id
    table = {"name": "w", "scenario": str(TINY), "set": {"tasks[0].mafr": 0.515}, "seeds": [0]}
    (job,) = build_plan(spec_from_table(table, "w.toml")).jobs(threads=1)
    outcome = run_job(job)
    assert outcome.ok, outcome.traceback
    assert set(outcome.files) == set(RUN_FILES)
    assert json.loads(outcome.files["summary.json"])["run_id"] == job.run_id
    assert outcome.wall_s > 0
    gc.collect()
    # Mesa's class-level id counters no longer hold the run's model, nor anything its world
    assert not [m for m in mesa.Agent._ids if getattr(m.world, "run_id", None) == job.run_id]
    assert not [o for o in gc.get_objects() if type(o) is World and o.run_id == job.run_id]


def test_a_failing_job_comes_back_with_its_traceback() -> None:
    table = {
        "name": "w",
        "scenario": str(TINY),
        "set": {"storage.backend": "ipfs", "storage.api": "/ip4/127.0.0.1/tcp/9/http"},
    }
    (job,) = build_plan(spec_from_table(table, "w.toml")).jobs()
    outcome = run_job(job)
    assert not outcome.ok
    assert outcome.files == {}
    assert outcome.error.startswith("StorageUnavailable")
    assert "sim/storage" in outcome.traceback
    assert (outcome.run_id, outcome.point, outcome.seed) == (job.run_id, 0, 0)
