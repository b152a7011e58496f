"""Task choice: with ``expected_profit`` agents decline tasks whose estimate is a loss."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from agents.choice import TYPICAL_GAS, contributor_estimate, evaluation_seconds, verifier_estimate
from contracts.units import ETHER, GWEI
from sim.runner import RunResult, run
from sim.scenario import Scenario, load_scenario, with_values

TINY = Path(__file__).resolve().parents[1] / "data" / "tiny.toml"


def scenario(**values: Any) -> Scenario:
    return with_values(load_scenario(TINY), values)


def rows(result: RunResult, kind: str) -> pd.DataFrame:
    ev = result.events
    return ev[ev["kind"] == kind]


def test_estimates_follow_the_task_and_the_prices() -> None:
    s = scenario(**{"costs.compute_price_ether_per_hour": 3.6})
    task = s.tasks[0]
    c = contributor_estimate(s, task, speed=2.0, shard_samples=1000)
    assert c.pay == pytest.approx(6 * ETHER * 0.8 / 3)  # an equal share among 3 contributors
    training_s = 1000 * s.training.epochs * s.timing.train_s_per_sample / 2.0
    gas = (TYPICAL_GAS["submit_model"] + TYPICAL_GAS["withdraw"]) * GWEI
    assert c.cost == pytest.approx(training_s * 0.001 * ETHER + gas, rel=1e-6)
    v = verifier_estimate(s, task, speed=1.0)
    assert v.pay == pytest.approx(3 / 4 * 6 * ETHER * 0.2 / 3)  # P(seat) × a seat's pay
    work = evaluation_seconds(s, 3) * 0.001 * ETHER
    seat_gas = (TYPICAL_GAS["commit"] + TYPICAL_GAS["reveal"]) * GWEI
    fixed_gas = (TYPICAL_GAS["register_verifier"] + TYPICAL_GAS["withdraw"]) * GWEI
    assert v.cost == pytest.approx(3 / 4 * (work + seat_gas) + fixed_gas, rel=1e-6)
    # leave-one-out on 3 models: 3 forward passes and 4 heads of 10 epochs over 400 samples
    t = s.timing
    assert evaluation_seconds(s, 3) == pytest.approx(
        3 * 400 * t.infer_s_per_sample + 4 * 10 * 400 * t.head_s_per_sample
    )
    assert evaluation_seconds(scenario(**{"contribution.method": "shapley"}), 3) > (
        evaluation_seconds(s, 3)
    )


def test_the_shapley_estimate_samples_above_the_scenarios_exact_limit() -> None:
    """Heads counted as the verifier trains them: 2^n − 1 exactly, n × permutations sampled."""
    shapley = {"contribution.method": "shapley", "contribution.shapley_permutations": 7}
    exact = scenario(**shapley)
    sampled = scenario(**shapley, **{"contribution.shapley_exact_max": 2})
    t, epochs, samples = exact.timing, 10, 400
    forward = 3 * samples * t.infer_s_per_sample
    per_head = epochs * samples * t.head_s_per_sample
    assert evaluation_seconds(exact, 3) == pytest.approx(forward + 7 * per_head)
    assert evaluation_seconds(sampled, 3) == pytest.approx(forward + 3 * 7 * per_head)


@pytest.mark.slow
def test_a_task_that_pays_less_than_gas_finds_no_takers() -> None:
    result = run(
        scenario(**{"population.task_choice": "expected_profit", "tasks[0].reward_ether": 0.0001}),
        0,
    )
    declined = rows(result, "declined")
    assert set(declined["agent"]) == {f"contributor-{i}" for i in range(3)} | {
        f"verifier-{i}" for i in range(4)
    }
    assert (declined["value"] < 0).all()
    assert declined["detail"].str.match(r"expected pay .* ether, cost .* ether").all()
    assert rows(result, "model_submitted").empty and rows(result, "registered").empty
    assert rows(result, "refunded")["agent"].tolist() == ["initiator-0"]


@pytest.mark.slow
def test_slow_contributors_decline_costly_training_and_fast_ones_profit() -> None:
    """Training costs 0.6 s per sample on the reference machine at 7 ether an hour: a share of
    1.6 ether covers it only for contributors faster than about 0.9× the reference."""
    values = {
        "population.task_choice": "expected_profit",
        "population.contributors": 6,
        "population.contributor_speed": {"kind": "uniform", "low": 0.3, "high": 3.0},
        "timing.train_s_per_sample": 0.6,
        "costs.compute_price_ether_per_hour": 7.0,
        "tasks[0].submission_window_s": 8 * 3600.0,
        "tasks[0].reward_ether": 12.0,
    }
    result = run(scenario(**values), 0)
    declined = rows(result, "declined")
    joined = set(rows(result, "model_submitted")["agent"])
    assert set(declined["agent"]) and joined  # the draw of speeds splits them
    assert set(declined["agent"]).isdisjoint(joined)
    assert set(declined["agent"]) <= {f"contributor-{i}" for i in range(6)}
    # those who joined were right to: their training cost less than their share
    compute = rows(result, "compute")
    share = 12.0 * 0.8 / 6
    for name in joined:
        spent = compute[compute["agent"] == name]["wei"].map(int).sum() / ETHER
        assert 0 < spent < share
