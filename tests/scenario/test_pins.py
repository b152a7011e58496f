"""Choosing deviators: ``population.assign`` pins, ``population.deviants`` draws per seed."""

from __future__ import annotations

from pathlib import Path

import pytest

from sim.errors import ConfigError
from sim.rng import RngStreams
from sim.scenario import load_scenario, with_values
from sim.strategies import deal, kinds_of

BASE = """
name = "t"
[population]
contributors = 3
verifiers = 5
verifier_behaviours = { lazy = 1 }
[[tasks]]
reward_ether = 5.0
committee_size = 3
"""


def test_pins_and_deviants_leave_everyone_else_as_dealt() -> None:
    mix = {"lazy": 1, "offline": 1}
    for seed in range(20):
        dealt = deal(mix, 6, RngStreams(seed).numpy("behaviour", "v"))
        pinned = kinds_of(
            "verifier", mix, 6, RngStreams(seed).numpy("behaviour", "v"), {"verifier-4": "copycat"}
        )
        assert pinned[4] == "copycat"
        assert [k for i, k in enumerate(pinned) if i != 4] == [
            k for i, k in enumerate(dealt) if i != 4
        ]
        deviating = kinds_of(
            "verifier",
            mix,
            6,
            RngStreams(seed).numpy("behaviour", "v"),
            deviants={"always_approve": 2},
            deviant_rng=RngStreams(seed).numpy("deviants", "verifier"),
        )
        changed = [i for i, (a, b) in enumerate(zip(dealt, deviating, strict=True)) if a != b]
        assert len(changed) == 2
        assert all(dealt[i] == "honest" and deviating[i] == "always_approve" for i in changed)


def test_the_same_seed_picks_the_same_deviator_whatever_the_kind() -> None:
    def first(kind: str, seed: int) -> int:
        kinds = kinds_of(
            "verifier",
            {},
            8,
            RngStreams(seed).numpy("behaviour", "v"),
            deviants={kind: 1},
            deviant_rng=RngStreams(seed).numpy("deviants", "verifier"),
        )
        return next(i for i, k in enumerate(kinds) if k == kind)

    picks = [first("lazy", s) for s in range(12)]
    assert picks == [first("offline", s) for s in range(12)]
    assert len(set(picks)) > 1  # chosen per seed, not a fixed position


def test_scenario_validates_pins_and_deviants(tmp_path: Path) -> None:
    path = tmp_path / "t.toml"
    path.write_text(BASE)
    base = load_scenario(path)
    ok = with_values(
        base,
        {
            "population.assign": {"verifier-1": "copycat"},
            "population.deviants": {"verifier": {"offline": 2}},
        },
    )
    assert ok.population.assign == {"verifier-1": "copycat"}
    assert ok.digest != base.digest
    bad = {
        "population.assign": {"verifier-5": "lazy"},
    }
    with pytest.raises(ConfigError, match=r"population\.assign\.verifier-5: expected verifier-0"):
        with_values(base, bad)
    with pytest.raises(ConfigError, match=r"unknown verifier kind 'poisoner'"):
        with_values(base, {"population.assign": {"verifier-0": "poisoner"}})
    with pytest.raises(ConfigError, match=r"population\.deviants\.verifier: asks for 5"):
        with_values(base, {"population.deviants": {"verifier": {"offline": 5}}})
    with pytest.raises(ConfigError, match=r"population\.deviants\.auditor: unknown role"):
        with_values(base, {"population.deviants": {"auditor": {"lazy": 1}}})
    with pytest.raises(ConfigError, match=r"population\.assign\.bob: expected an agent name"):
        with_values(base, {"population.assign": {"bob": "lazy"}})
