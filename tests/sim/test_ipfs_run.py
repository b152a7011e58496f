"""The quick scenario on a real IPFS daemon records exactly the CIDs of the embedded store."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pandas as pd
import pytest

from sim.errors import StorageUnavailable
from sim.runner import run
from sim.scenario import load_scenario

QUICK = Path(__file__).resolve().parents[2] / "scenarios" / "quick.toml"


@pytest.mark.slow
@pytest.mark.ipfs
def test_quick_on_ipfs_gives_the_embedded_tables_cids(ipfs_api: str, tmp_path: Path) -> None:
    embedded = load_scenario(QUICK)
    on_ipfs = dataclasses.replace(
        embedded, storage=dataclasses.replace(embedded.storage, backend="ipfs", api=ipfs_api)
    )
    a = run(embedded, 0, out=tmp_path / "embedded")
    b = run(on_ipfs, 0, out=tmp_path / "ipfs")
    cids_a = a.events["cid"].dropna()
    assert len(cids_a) > 10  # specs, uploads, fetches, submissions, truth rows
    pd.testing.assert_series_equal(cids_a, b.events["cid"].dropna())
    # only where the bytes live differs: the whole table is the same but for the run id
    # (the scenario hash covers the storage table)
    drop = ["run_id", "scenario_hash"]
    pd.testing.assert_frame_equal(a.events.drop(columns=drop), b.events.drop(columns=drop))
    assert b.summary["status"] == "completed"


def test_unreachable_daemon_stops_the_run_before_it_starts(tmp_path: Path) -> None:
    s = load_scenario(QUICK)
    s = dataclasses.replace(
        s, storage=dataclasses.replace(s.storage, backend="ipfs", api="/ip4/127.0.0.1/tcp/9/http")
    )
    with pytest.raises(
        StorageUnavailable, match=r"no IPFS daemon answers at /ip4/127\.0\.0\.1/tcp/9/http"
    ):
        run(s, 0, out=tmp_path)
    assert not (tmp_path / "events.parquet").exists()
