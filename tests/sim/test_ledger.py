"""The ledger charges locked stakes their cost of capital, and only that changes profit."""

from __future__ import annotations

from pathlib import Path

import pytest

import sim
from sim.scenario import YEAR_S

TINY = Path(__file__).resolve().parents[1] / "data" / "tiny.toml"


@pytest.mark.slow
def test_a_locked_stake_costs_its_rate_for_the_time_it_was_locked() -> None:
    free = sim.run(TINY, seed=0)
    charged = sim.run(TINY, seed=0, overrides=["costs.stake_rate_per_year=0.5"])
    rows = charged.events[charged.events["kind"] == "capital_cost"]
    registered = charged.events[charged.events["kind"] == "registered"]
    assert len(rows) == len(registered) == 4  # every verifier staked once and got it back
    for _, row in rows.iterrows():
        assert 0 < row["value"] < 3600  # registration to release, in simulated seconds
        assert int(row["wei"]) == round(10**18 * 0.5 * row["value"] / YEAR_S)
    assert free.events[free.events["kind"] == "capital_cost"].empty
    for name, agent in charged.summary["agents"].items():
        before = free.summary["agents"][name]
        assert agent["capital_cost_wei"] == int(rows[rows["agent"] == name]["wei"].sum())
        assert agent["net_profit_wei"] == before["net_profit_wei"] - agent["capital_cost_wei"]
