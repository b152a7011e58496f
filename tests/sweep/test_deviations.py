"""Deviation studies end to end, on a scenario whose answer is known by construction.

``tests/data/deviations_lazy.toml``: three verifiers, all on the committee. Without stakes
and with plain majority reports a lazy verifier is paid like an honest one and saves the
verification compute (priced in ``[costs]``): its deviation is profitable. With a 1-ether
stake, full slashing, median aggregation and a 0.5 % tolerance its made-up report is slashed:
unprofitable.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from sim.cli import main
from sim.sweep import LocalExecutor
from sim.sweep.deviations import build_deviation_plan, build_region_plan, run_deviations
from sim.sweep.spec import spec_from_table

HERE = Path(__file__).resolve().parent
SCENARIO = HERE.parent / "data" / "deviations_lazy.toml"
DEFENDED = {
    "tasks[0].verifier_stake_ether": 1.0,
    "tasks[0].slash_fraction": 1.0,
    "tasks[0].aggregation": "median",
    "tasks[0].tolerance": 0.005,
}

pytestmark = pytest.mark.slow


def test_laziness_pays_without_stakes_and_not_with_them(tmp_path: Path) -> None:
    plain = build_deviation_plan(SCENARIO, 3, kinds=["lazy"])
    assert [d.label for d in plain.deviations] == ["verifier/lazy"]
    status = run_deviations(plain, tmp_path / "plain", LocalExecutor(2), threads=1, progress=False)
    (row,) = status.rows
    assert row["verdict"] == "profitable", row
    assert row["n"] == 3 and row["ci_low"] > 0
    assert row["profit_deviating"] > row["profit_honest"]

    defended = build_deviation_plan(SCENARIO, 3, kinds=["lazy"], overrides=DEFENDED)
    status = run_deviations(
        defended, tmp_path / "defended", LocalExecutor(2), threads=1, progress=False
    )
    (row,) = status.rows
    assert row["verdict"] == "unprofitable", row
    assert row["ci_high"] < -0.5  # the stake is lost
    table = pd.read_parquet(tmp_path / "defended" / "deviations.parquet")
    assert len(table) == 3 and (table["base_behaviour"] == "honest").all()
    assert table["deviators"].str.startswith("verifier-").all()
    report = json.loads((tmp_path / "defended" / "deviations.json").read_text())
    assert report["runs"]["planned"] == 6 and report["verdicts"][0]["n"] == 3
    assert (tmp_path / "defended" / "deviations" / "gain.png").is_file()


def test_the_base_runs_are_shared_and_a_rerun_resumes(tmp_path: Path) -> None:
    dplan = build_deviation_plan(SCENARIO, 2, kinds=["lazy", "offline", "free_rider"])
    assert len(dplan.plan.points) == 4  # one base point for three deviations
    assert dplan.naive_runs == 12
    out = tmp_path / "d"
    code = main(
        ["deviations", str(SCENARIO), "--seeds", "2", "--kinds", "lazy,offline,free_rider",
         "--out", str(out), "--quiet", "--workers", "2"]
    )  # fmt: skip
    assert code == 0
    report = json.loads((out / "deviations.json").read_text())
    assert report["runs"]["ran_now"] == 8
    assert {r["kind"] for r in report["verdicts"]} == {"lazy", "offline", "free_rider"}
    again = run_deviations(dplan, out, LocalExecutor(2), threads=1, progress=False)
    assert again.sweep.skipped == 8 and again.sweep.done == 0


def test_kinds_that_cannot_apply_are_reported_with_the_reason() -> None:
    dplan = build_deviation_plan(
        SCENARIO, 1, overrides={"tasks[0].commit_reveal": True}, coalition=3, roles=["verifier"]
    )
    reasons = {s.kind: s.reason for s in dplan.not_applicable}
    assert "commit-reveal" in reasons["copycat"]
    assert dplan.deviations and all(d.coalition == 3 for d in dplan.deviations)
    too_many = build_deviation_plan(SCENARIO, 1, kinds=["lazy"], coalition=4)
    assert "asks for 4 deviating verifiers" in too_many.not_applicable[0].reason
    pinned = build_deviation_plan(SCENARIO, 1, kinds=["lazy"], agents=[1])
    assert pinned.plan.points[1].scenario.population.assign == {"verifier-1": "lazy"}
    outside = build_deviation_plan(SCENARIO, 1, kinds=["lazy"], agents=[7])
    assert "outside" in outside.not_applicable[0].reason
    everything = build_deviation_plan(SCENARIO, 1)
    studied = {(d.role, d.kind) for d in everything.deviations}
    attacks = ("late_draw", "peek_and_cancel", "grinder", "free_access")
    assert {("initiator", kind) for kind in attacks} <= studied


def test_the_honesty_region_holds_where_the_defences_are_on(tmp_path: Path) -> None:
    plain_values = {"tasks[0].verifier_stake_ether": 0.0, "tasks[0].slash_fraction": 0.0,
                    "tasks[0].aggregation": "majority", "tasks[0].tolerance": 0.0}  # fmt: skip
    defences = [{"key": k, "values": [plain_values[k], v]} for k, v in DEFENDED.items()]
    spec = spec_from_table(
        {
            "name": "region",
            "scenario": str(SCENARIO),
            "seeds": 3,
            "vary": [{"zip": defences}],
            "deviations": {"kinds": ["lazy"]},
        },
        "region.toml",
    )
    dplan = build_region_plan(spec)
    assert [s.values["tasks[0].slash_fraction"] for s in dplan.studies] == [0.0, 1.0]
    status = run_deviations(dplan, tmp_path / "r", LocalExecutor(2), threads=1, progress=False)
    report = json.loads((tmp_path / "r" / "deviations.json").read_text())
    region = {cell["point"]["tasks[0].slash_fraction"]: cell for cell in report["region"]}
    assert region[0.0]["profitable"] == ["verifier/lazy"] and not region[0.0]["honest"]
    assert region[1.0]["honest"] and region[1.0]["settled"]
    assert region[1.0]["cost_of_honesty"] > 0
    assert {r["point"]["tasks[0].slash_fraction"] for r in status.rows} == {0.0, 1.0}
    assert (tmp_path / "r" / "deviations" / "region.png").is_file()
    table = pd.read_parquet(tmp_path / "r" / "deviations.parquet")
    assert "tasks[0].slash_fraction" in table.columns and len(table) == 6
