"""The oracle's verdict is the contract's verdict, to the last part per million."""

from __future__ import annotations

import numpy as np
import pytest

import sim
from contracts.settlement import Aggregation, Report, Rules, aggregate
from contracts.units import to_ppm
from sim.oracle import honest_outcome


def contract_verdict(accuracy: float, mafr_bps: int, aggregation: Aggregation) -> bool:
    """What finalize decides when three honest members report ``accuracy`` (the contract's
    arithmetic, tested wei for wei against the bytecode in tests/contracts)."""
    report = Report(to_ppm(accuracy), ())
    rules = Rules(mafr_bps=mafr_bps, verifier_share_bps=2000, aggregation=aggregation)
    accepted, _acc, _scores = aggregate(rules, [report] * 3, 0)
    return accepted


@pytest.mark.parametrize("aggregation", list(Aggregation))
def test_the_oracle_agrees_with_the_contract_at_every_mafr_boundary(
    aggregation: Aggregation,
) -> None:
    """Accuracies are float32 means over 500 evaluation samples (k / 500); every MAFR from
    0.50 to 1.00 in steps of 0.01, and the accuracies on both sides of each."""
    float_rule_wrong = 0
    for mafr_bps in range(5_000, 10_001, 100):
        for k in range(501):
            accuracy = float(np.float32(k / 500))
            verdict = contract_verdict(accuracy, mafr_bps, aggregation)
            assert honest_outcome(accuracy, mafr_bps) == verdict, (k, mafr_bps)
            float_rule_wrong += (accuracy >= mafr_bps / 10_000) != verdict
    assert float_rule_wrong > 0  # the old float comparison disagrees at some boundaries


@pytest.mark.slow
def test_an_honest_market_at_a_boundary_mafr_has_no_wrong_outcome() -> None:
    """The case that exposed the float rule: no adversary at all, MAFR equal to the honest
    fused accuracy on 500 evaluation samples."""
    result = sim.run(
        "scenarios/collusion.toml",
        seed=0,
        overrides=["population.verifier_behaviours={}", "tasks[0].mafr=0.844"],
    )
    truth = result.events[result.events["kind"] == "ground_truth"]
    assert (truth["value"] == np.float32(0.844)).all()  # the boundary is really hit
    assert result.summary["wrong_outcome_rate"] == 0.0
    assert result.summary["attack_success_rate"] == 0.0
