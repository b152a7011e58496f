"""A store that fails during a run costs the step that needed it, never the run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from agents.population import DefaultPopulation, build
from contracts.units import Cid
from sim.errors import StorageError, StorageUnavailable
from sim.runner import run
from sim.storage.base import Store
from sim.world import World

TINY = Path(__file__).resolve().parents[1] / "data" / "tiny.toml"
MODEL_BYTES = 10_000  # task descriptions are a few hundred bytes, models tens of kB

pytestmark = pytest.mark.slow


class Flaky:
    """The run's store, but the first model upload and the first model fetch fail, as a
    daemon that times out would (after the store's own retries)."""

    def __init__(self, inner: Store):
        self.inner = inner
        self.failed_put = False
        self.failed_get: Cid | None = None

    def put(self, data: bytes) -> Cid:
        if len(data) > MODEL_BYTES and not self.failed_put:
            self.failed_put = True
            raise StorageUnavailable("IPFS daemon timed out (test)")
        return self.inner.put(data)

    def get(self, cid: Cid) -> bytes:
        data = self.inner.get(cid)
        if len(data) > MODEL_BYTES and self.failed_get is None:
            self.failed_get = cid
            raise StorageError(f"{cid}: read timed out (test)")
        return data

    def has(self, cid: Cid) -> bool:
        return self.inner.has(cid)

    def pin(self, cid: Cid) -> None:
        self.inner.pin(cid)

    def size(self, cid: Cid) -> int:
        return self.inner.size(cid)

    def close(self) -> None:
        self.inner.close()


def test_failed_upload_and_fetch_are_recorded_and_the_run_goes_on(tmp_path: Path) -> None:
    flaky: list[Flaky] = []

    def population(world: World) -> DefaultPopulation:
        world.store = Flaky(world.store)
        flaky.append(world.store)
        return build(world)

    result = run(TINY, 0, out=tmp_path, population=population)
    ev = result.events
    assert result.summary["status"] == "completed"
    failed = ev[ev["kind"] == "failed"]
    upload: Any  # a row of the events table: pandas-stubs types every field as any scalar
    (upload,) = failed[failed["detail"].str.startswith("upload failed")].itertuples()
    assert upload.role == "contributor" and upload.bytes > MODEL_BYTES and upload.task == 1
    # that contributor's step ended there: nothing uploaded or submitted, so nothing paid
    own = ev[ev["agent"] == upload.agent]
    assert not own["kind"].isin(["model_uploaded", "model_submitted", "paid"]).any()
    others = set(ev[ev["kind"] == "model_submitted"]["agent"])
    assert len(others) == 2 and upload.agent not in others
    (fetch,) = failed[failed["detail"].str.startswith("fetch failed")].itertuples()
    assert fetch.cid == flaky[0].failed_get
    (outcome,) = result.summary["task_outcomes"]
    assert outcome["accepted"] is True  # two models still make the task
    assert isinstance(pd.read_parquet(tmp_path / "events.parquet"), pd.DataFrame)
