"""Metrics are pure functions of the event table: checked on small hand-built tables."""

from __future__ import annotations

import math
from typing import Any

import pandas as pd
import pytest

from analysis import metrics
from contracts.units import Address
from sim.directory import Directory
from sim.recorder import Kind, Recorder

ETH = 10**18


class Table:
    """Builds an event table through the real recorder (so the schema is the real one)."""

    def __init__(self) -> None:
        self.t = 0.0
        self.directory = Directory()
        self.rec = Recorder("run", 0, "hash", lambda: self.t, lambda: 1, self.directory)

    def agent(
        self, name: str, role: str, behaviour: str = "honest", start: int = 100 * ETH
    ) -> None:
        address = Address(f"0x{len(self.directory) + 1:040x}")
        self.directory.add(name, address, role, behaviour)
        self.rec.record(Kind.FUNDED, name, wei=start)

    def at(self, t: float, kind: Kind, agent: str | None = None, **values: Any) -> None:
        self.t = t
        self.rec.record(kind, agent, **values)

    def frame(self) -> pd.DataFrame:
        return self.rec.to_frame()


def market(accepted: bool = True, honest: bool = True) -> Table:
    tb = Table()
    tb.agent("initiator-0", "initiator")
    for i, kind in enumerate(["honest", "honest", "free_rider"]):
        tb.agent(f"contributor-{i}", "contributor", kind)
    tb.agent("verifier-0", "verifier")
    tb.agent("verifier-1", "verifier", "lazy")
    tb.at(10, Kind.TASK_CREATED, "initiator-0", task=1, wei=10 * ETH, detail="digits")
    tb.at(20, Kind.TX, "contributor-0", task=1, ok=True, gas=100_000, fee_wei=10**14, wei=0)
    tb.at(20, Kind.TX, "verifier-1", task=1, ok=False, gas=30_000, fee_wei=3 * 10**13, wei=0)
    tb.at(3000, Kind.TASK_FINALIZED, None, task=1, ok=accepted, value=0.9)
    tb.at(3000, Kind.GROUND_TRUTH, None, task=1, ok=honest, value=0.91, truth=0.92)
    pays = {"contributor-0": 5 * ETH, "contributor-1": 2 * ETH, "contributor-2": 1 * ETH}
    truths = {"contributor-0": 0.05, "contributor-1": 0.02, "contributor-2": -0.01}
    honest_pay = {"contributor-0": 5 * ETH, "contributor-1": 3 * ETH, "contributor-2": 0}
    for name, pay in pays.items():
        if accepted:
            tb.at(3000, Kind.PAID, name, task=1, wei=pay)
        tb.at(3000, Kind.TRUE_CONTRIBUTION, name, task=1, truth=truths[name], wei=honest_pay[name])
    tb.at(3000, Kind.SLASHED, "verifier-1", task=1, wei=ETH // 2)
    tb.at(3500, Kind.COMPUTE, "verifier-0", task=1, value=360.0, wei=10**16)
    for name, end in {
        "initiator-0": 90 * ETH,
        "contributor-0": 105 * ETH,
        "contributor-1": 102 * ETH,
        "contributor-2": 101 * ETH,
        "verifier-0": 101 * ETH,
        "verifier-1": 99 * ETH,
    }.items():
        tb.at(4000, Kind.BALANCE, name, wei=end)
    return tb


def test_task_table_and_rates() -> None:
    ev = market().frame()
    t = metrics.tasks(ev)
    assert t["task"].tolist() == [1]
    assert t["first_payment_at"].tolist() == [3000.0]
    assert metrics.task_success_rate(ev) == 1.0
    assert metrics.fused_accuracy(ev) == pytest.approx(0.92)
    assert metrics.time_to_payout(ev) == pytest.approx(2990.0)
    assert metrics.gas_per_task(ev) == 130_000.0
    assert metrics.wrong_outcome_rate(ev) == 0.0
    assert metrics.wrong_outcome_rate(market(accepted=True, honest=False).frame()) == 1.0
    rejected = market(accepted=False).frame()
    assert metrics.task_success_rate(rejected) == 0.0
    assert math.isnan(metrics.fused_accuracy(rejected))
    assert math.isnan(metrics.time_to_payout(rejected.query("kind != 'paid'")))


def test_profit_is_exact_and_net_of_compute() -> None:
    a = metrics.agents(market().frame()).set_index("agent")
    assert a.loc["contributor-0", "profit_wei"] == 5 * ETH
    assert a.loc["verifier-0", "net_profit_wei"] == ETH - 10**16
    assert a.loc["verifier-1", "slashed_wei"] == ETH // 2
    assert a.loc["verifier-1", "gas_fee_wei"] == 3 * 10**13
    by = metrics.net_profit_by_behaviour(market().frame())
    assert by["contributor"] == {"honest": (5 * ETH + 2 * ETH) // 2, "free_rider": ETH}
    assert by["verifier"] == {"honest": ETH - 10**16, "lazy": -ETH}


def test_fairness_free_rider_share_and_attack_success() -> None:
    ev = market().frame()
    assert metrics.payment_fairness(ev) == pytest.approx(1.0)  # pay ranks like contribution
    assert metrics.free_rider_share(ev) == pytest.approx(1 / 8)
    # contributor-1 got 2 instead of 3 and contributor-2 1 instead of 0: 2 of 8 moved = 12.5 %
    assert metrics.attack_success_rate(ev) == 1.0
    assert metrics.attack_success_rate(ev, tolerance=0.2) == 0.0


def test_spearman_needs_three_varying_pairs() -> None:
    s = pd.Series
    assert metrics.spearman(s([1, 2, 3]), s([10, 30, 20])) == pytest.approx(0.5)
    assert math.isnan(metrics.spearman(s([1, 2]), s([1, 2])))
    assert math.isnan(metrics.spearman(s([1, 1, 1]), s([1, 2, 3])))


def test_agents_online_follows_joins_and_leaves() -> None:
    tb = market()
    tb.at(100, Kind.AGENT_LEFT, "verifier-1")
    tb.at(200, Kind.AGENT_JOINED, "verifier-1")
    online = metrics.agents_online(tb.frame())
    verifiers = online[online["role"] == "verifier"]["online"].tolist()
    assert verifiers == [1, 2, 1, 2]


def test_summary_carries_the_keys_outside_scripts_read() -> None:
    summary = metrics.summarize(market().frame())
    for key in (
        "task_success_rate",
        "wrong_outcome_rate",
        "payment_fairness",
        "net_profit_by_behaviour",
        "gas_per_task",
        "time_to_payout",
        "fused_accuracy",
    ):
        assert key in summary
    assert summary["agents"]["verifier-0"]["compute_cost_wei"] == 10**16
