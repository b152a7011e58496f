"""Attacks on the protocol, each without and with its defence, on the smallest market.

The answers are known by construction: an initiator who draws in the last second leaves no
member time to commit, so all are absent and slashed and the stakes flow to it — unless
reporting time counts from the draw; an initiator who cancels after reading the submitted
models pays nothing for them — unless the contract locks cancel once a model is submitted.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

import sim

TINY = Path(__file__).resolve().parents[1] / "data" / "tiny.toml"
ETH = 10**18

pytestmark = pytest.mark.slow


def run(kind: str, *settings: str) -> sim.RunResult:
    return sim.run(
        TINY, seed=0, overrides=[f"population.initiator_behaviours={{{kind}=1}}", *settings]
    )


def rows(result: sim.RunResult, kind: str) -> pd.DataFrame:
    events = result.events
    return events[events["kind"] == kind]


def initiator_profit(result: sim.RunResult, kind: str) -> float:
    return float(result.summary["net_profit_by_behaviour"]["initiator"][kind])


def test_a_last_second_draw_slashes_every_member_and_pays_the_initiator() -> None:
    attacked = run("late_draw")
    assert rows(attacked, "slashed")["agent"].nunique() == 3  # the whole committee
    assert attacked.summary["tasks_accepted"] == 0
    assert initiator_profit(attacked, "late_draw") > 1.0 * ETH  # 3 × half a 1-ether stake
    defended = run("late_draw", "tasks[0].report_window_s=120")
    assert rows(defended, "slashed").empty
    assert defended.summary["tasks_accepted"] == 1
    assert initiator_profit(defended, "late_draw") < -5.0 * ETH  # it paid for its model


def test_burning_orphan_slashes_takes_the_stakes_away_from_the_initiator() -> None:
    burned = run("late_draw", "tasks[0].burn_orphan_slashes=true")
    assert burned.summary["burned_stakes_wei"] == 3 * ETH // 2
    assert initiator_profit(burned, "late_draw") < 0.01 * ETH  # escrow back, nothing more


def test_peeking_then_cancelling_gets_the_models_for_free_unless_cancel_is_locked() -> None:
    attacked = run("peek_and_cancel")
    access = rows(attacked, "access_model")
    assert "without paying" in access["detail"].iloc[0] and access["value"].iloc[0] > 0.5
    assert rows(attacked, "paid").empty
    assert abs(initiator_profit(attacked, "peek_and_cancel")) < 0.05 * ETH  # gas and compute
    defended = run("peek_and_cancel", "tasks[0].no_cancel_after_submission=true")
    assert "cancel: " in " ".join(rows(defended, "failed")["detail"])
    assert defended.summary["tasks_accepted"] == 1
    assert initiator_profit(defended, "peek_and_cancel") < -3.0 * ETH
