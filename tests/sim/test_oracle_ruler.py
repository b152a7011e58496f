"""The oracle's ruler of true contributions (``contribution.truth``)."""

from __future__ import annotations

from pathlib import Path

import pytest

import sim

TINY = Path(__file__).resolve().parents[1] / "data" / "tiny.toml"

pytestmark = pytest.mark.slow


def truths(*settings: str) -> list[float]:
    result = sim.run(TINY, seed=0, overrides=["contribution.method=individual", *settings])
    rows = result.events[result.events["kind"] == "true_contribution"]
    return [float(v) for v in rows["truth"]]


def test_the_oracle_measures_by_shapley_values_or_by_the_tasks_method() -> None:
    shapley = truths()
    own = truths('contribution.truth="method"')
    assert len(shapley) == len(own) == 3
    # individual accuracy on the test set: each model alone is far better than chance
    assert all(0.5 < t <= 1 for t in own)
    # Shapley values share the fused model's gain over the empty coalition among the models
    assert sum(shapley) < 1 < sum(own)
