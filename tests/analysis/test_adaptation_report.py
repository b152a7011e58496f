"""``baasim report`` on adaptive runs: strategy shares over time, mean and band over seeds."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from analysis.adaptation import render_shares_page, run_dirs, sweep_shares
from sim.cli import main

KINDS = {"verifier": ["honest", "lazy"]}


def _write_run(path: Path, switch_at: float) -> None:
    """A run directory whose verifier-0 turns lazy at ``switch_at``."""
    path.mkdir(parents=True)
    rows = [
        {"time": 0.0, "kind": "funded", "agent": "verifier-0", "role": "verifier",
         "behaviour": "honest", "detail": None},
        {"time": 0.0, "kind": "funded", "agent": "verifier-1", "role": "verifier",
         "behaviour": "honest", "detail": None},
        {"time": switch_at, "kind": "strategy_revised", "agent": "verifier-0",
         "role": "verifier", "behaviour": "lazy",
         "detail": "honest -> lazy; imitation; own 0.1 vs 0.3 ether/task; p=0.9"},
    ]  # fmt: skip
    pd.DataFrame(rows).to_parquet(path / "events.parquet")
    summary = {"strategy_share": {"verifier": {"honest": 0.5, "lazy": 0.5}}, "status": "completed"}
    (path / "summary.json").write_text(json.dumps(summary))


def test_report_of_adaptive_runs(tmp_path: Path) -> None:
    for seed, at in enumerate((3600.0, 7200.0)):
        _write_run(tmp_path / f"seed-{seed}", at)
    assert len(run_dirs(tmp_path)) == 2
    files = render_shares_page(tmp_path)
    assert files is not None
    page = files["index.html"].decode()
    assert "Strategy shares" in page and "strategy_shares_0.png" in page
    assert files["strategy_shares_0.png"].startswith(b"\x89PNG")
    assert main(["report", str(tmp_path)]) == 0
    assert (tmp_path / "report" / "index.html").is_file()
    assert (tmp_path / "report" / "strategy_shares_0.png").is_file()


def test_runs_without_adaptation_get_no_share_page(tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    (run / "summary.json").write_text(json.dumps({"status": "completed"}))
    assert render_shares_page(run) is None


def test_sweep_section_per_point(tmp_path: Path) -> None:
    _write_run(tmp_path / "runs" / "a-s0", 3600.0)
    _write_run(tmp_path / "runs" / "b-s0", 600.0)
    sweep = {
        "points": [
            {"point": 0, "values": {"tasks[0].verifier_stake_ether": 0.05}},
            {"point": 1, "values": {"tasks[0].verifier_stake_ether": 2.0}},
        ],
        "runs": [{"point": 0, "run_id": "a-s0"}, {"point": 1, "run_id": "b-s0"}],
    }
    html, files = sweep_shares(tmp_path, sweep)
    assert "tasks[0].verifier_stake_ether=0.05" in html
    assert sorted(files) == ["strategy_shares_0.png", "strategy_shares_1.png"]


def test_share_band_stays_inside_zero_one() -> None:
    """Shares spread from 0 to 1 over seeds: Student's t would reach below 0 and above 1."""
    from analysis.adaptation import share_bands

    tables = [
        pd.DataFrame(
            {"time": [0.0, 3600.0], "role": "verifier", "kind": "honest", "share": [0.5, end]}
        )
        for end in (0.0, 0.0, 1.0, 1.0, 0.0)
    ]
    bands = share_bands(tables, points=5)
    late = bands[bands["time"] >= 3600.0]
    assert (late["n"] == 5).all() and (late["mean"] == 0.4).all()
    # 0.4 ± 0.68 (t with 4 degrees of freedom): clipped at both ends
    assert (late["low"] == 0.0).all() and (late["high"] == 1.0).all()
    spread = bands.dropna(subset=["low"])
    assert len(spread) > 0 and spread["low"].ge(0.0).all() and spread["high"].le(1.0).all()
