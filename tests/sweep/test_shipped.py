"""The sweeps shipped in scenarios/sweeps/ are valid, small ones small, full ones larger."""

from __future__ import annotations

from pathlib import Path

import pytest

from sim.sweep import build_plan, load_sweep
from sim.sweep.deviations import build_region_plan

SWEEPS = Path(__file__).resolve().parents[2] / "scenarios" / "sweeps"
FILES = sorted(SWEEPS.glob("*.toml"))


def test_the_studies_the_issue_asks_for_are_shipped() -> None:
    names = {p.stem for p in FILES}
    assert {"lazy_stake", "lazy_stake_full", "churn_rate", "churn_rate_full"} <= names


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_every_point_of_a_shipped_sweep_is_a_valid_scenario(path: Path) -> None:
    plan = build_plan(load_sweep(path))
    runs = len(plan.points) * len(plan.seeds)
    if path.stem.endswith("_full"):
        assert len(plan.seeds) >= 20  # no small-n note in the report
    else:
        assert runs <= 30  # CI-friendly at small scale
    assert plan.spec.description


def test_a_full_study_varies_what_its_small_one_does() -> None:
    for full in SWEEPS.glob("*_full.toml"):
        small = load_sweep(full.with_name(full.name.replace("_full", "")))
        assert load_sweep(full).parameters == small.parameters


def test_the_honesty_regions_are_shipped_and_every_deviation_is_valid() -> None:
    for name, role in (
        ("honesty_region", "verifier"),
        ("honesty_region_contributors", "contributor"),
    ):
        dplan = build_region_plan(load_sweep(SWEEPS / f"{name}.toml"))
        assert len(dplan.parameters) == 2 and len(dplan.studies) == 4
        assert dplan.deviations and {d.role for d in dplan.deviations} == {role}


def test_baasim_sweep_lists_a_region_s_deviations(capsys: pytest.CaptureFixture[str]) -> None:
    from sim.cli import main

    assert main(["sweep", str(SWEEPS / "honesty_region.toml"), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "verifier/copycat: not applicable" in out
    assert "20 deviation(s) × 5 seed(s): 120 run(s) (naive: 200)" in out
