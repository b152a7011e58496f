"""``tasks[i].settlement``: the paper's cap, and what claim settlement needs."""

from __future__ import annotations

from pathlib import Path

import pytest

from sim.errors import ConfigError
from sim.scenario import load_scenario, with_values
from tests.scenario.conftest import BASE


def test_settlement_defaults_to_the_paper_and_claim_lifts_the_cap(tmp_path: Path) -> None:
    path = tmp_path / "t.toml"
    path.write_text(BASE)
    base = load_scenario(path)
    assert base.tasks[0].settlement == "paper" and base.tasks[0].max_contributors == 64
    with pytest.raises(ConfigError, match="max_contributors: expected at most 64"):
        with_values(base, {"tasks[0].max_contributors": 65})
    big = {"tasks[0].settlement": "claim", "tasks[0].max_contributors": 1000}
    with pytest.raises(ConfigError, match='truth = "shapley" computes Shapley values for at most'):
        with_values(base, big)  # the oracle's default ruler
    claim = with_values(base, {**big, "contribution.truth": "method"})
    assert claim.tasks[0].max_contributors == 1000
    with pytest.raises(ConfigError, match='method = "shapley" computes'):
        with_values(claim, {"contribution.method": "shapley"})
    at_cap = with_values(base, {"tasks[0].settlement": "claim", "tasks[0].max_contributors": 64})
    assert at_cap.contribution.truth == "shapley"  # up to the paper's cap, Shapley is kept
    with pytest.raises(ConfigError, match='"claim" needs aggregation = "majority"'):
        with_values(base, {"tasks[0].settlement": "claim", "tasks[0].aggregation": "median"})
    with pytest.raises(ConfigError, match="settlement"):
        with_values(base, {"tasks[0].settlement": "lazy"})
