"""The metrics on a shipped all-honest scenario: fair pay reads as fair, every tx is counted."""

from __future__ import annotations

from pathlib import Path

import pytest

from analysis import metrics
from sim.runner import run

QUICK = Path(__file__).resolve().parents[2] / "scenarios" / "quick.toml"

pytestmark = pytest.mark.slow


def test_an_all_honest_shipped_market_is_fair_and_its_gas_is_all_counted(
    tmp_path: Path,
) -> None:
    result = run(QUICK, 0, out=tmp_path)
    s = result.summary
    assert s["task_success_rate"] == 1.0
    # honest committee, exact Shapley pay: pay shares match the true shares (0.994 at seed 0)
    assert s["payment_fairness"] >= 0.95
    assert s["honest_payment_fairness"] == s["payment_fairness"]
    assert (s["payment_fairness_tasks"], s["payment_fairness_dropped"]) == (1, 0)
    # one task caused every transaction, its creation and all withdrawals included
    assert s["gas_per_task"] == s["gas_total"] and s["gas_unattributed"] == 0
    # pay is held only after withdrawal, which cannot precede finalization
    finalized = float(metrics.tasks(result.events)["finalized_at"].iloc[0])
    created = float(metrics.tasks(result.events)["created_at"].iloc[0])
    assert s["payout_time_first"]["contributor"] >= finalized - created
    assert s["unclaimed_credit_wei"]["contributor"] == 0
    assert s["initiator_accuracy"] == pytest.approx(
        s["task_outcomes"][0]["initiator_model_accuracy"]
    )
