"""Metrics are pure functions of the event table: checked on small hand-built tables."""

from __future__ import annotations

import math
from typing import Any

import pandas as pd
import pytest

from analysis import metrics
from analysis.runs import flatten_summary
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


def market(accepted: bool = True, honest: bool = True, withdraw_at: float = 3100.0) -> Table:
    """One task: 3 contributors (one free rider), 2 verifiers (one lazy, slashed).

    contributor-0 and contributor-1 withdraw at ``withdraw_at`` (contributor-1 again at
    5000 after a second credit); contributor-2 never withdraws; verifier-0 withdraws its
    pay and stake at 3200 and the initiator its refund at 3050.
    """
    tb = Table()
    tb.agent("initiator-0", "initiator")
    for i, kind in enumerate(["honest", "honest", "free_rider"]):
        tb.agent(f"contributor-{i}", "contributor", kind)
    tb.agent("verifier-0", "verifier")
    tb.agent("verifier-1", "verifier", "lazy")
    tx = {"ok": True, "fee_wei": 10**14, "wei": 0}
    tb.at(10, Kind.TX, "initiator-0", gas=400_000, detail="create_task", **tx)
    tb.at(10, Kind.TASK_CREATED, "initiator-0", task=1, wei=10 * ETH, detail="digits")
    tb.at(20, Kind.TX, "contributor-0", task=1, ok=True, gas=100_000, fee_wei=10**14, wei=0)
    tb.at(20, Kind.TX, "verifier-1", task=1, ok=False, gas=30_000, fee_wei=3 * 10**13, wei=0)
    tb.at(25, Kind.TX, "verifier-0", gas=50_000, detail="register", **tx)  # no task
    tb.at(3000, Kind.TASK_FINALIZED, None, task=1, ok=accepted, value=0.9)
    tb.at(3000, Kind.GROUND_TRUTH, None, task=1, ok=honest, value=0.91, truth=0.92)
    pays = {"contributor-0": 5 * ETH, "contributor-1": 2 * ETH, "contributor-2": 1 * ETH}
    truths = {"contributor-0": 0.05, "contributor-1": 0.02, "contributor-2": -0.01}
    honest_pay = {"contributor-0": 5 * ETH, "contributor-1": 3 * ETH, "contributor-2": 0}
    for name, pay in pays.items():
        if accepted:
            tb.at(3000, Kind.PAID, name, task=1, wei=pay)
        tb.at(3000, Kind.TRUE_CONTRIBUTION, name, task=1, truth=truths[name], wei=honest_pay[name])
    tb.at(3000, Kind.PAID, "verifier-0", task=1, wei=ETH // 10)
    tb.at(3000, Kind.STAKE_RETURNED, "verifier-0", task=1, wei=ETH)
    tb.at(3000, Kind.SLASHED, "verifier-1", task=1, wei=ETH // 2)
    tb.at(3000, Kind.REFUNDED, "initiator-0", task=1, wei=ETH // 5)
    tb.at(3050, Kind.TX, "initiator-0", task=1, gas=30_000, detail="withdraw", tx_hash="0xi", **tx)
    tb.at(3050, Kind.WITHDRAWN, "initiator-0", task=1, wei=ETH // 5, tx_hash="0xi")
    if accepted:
        for i in (0, 1):
            name, h = f"contributor-{i}", f"0xc{i}"
            tb.at(withdraw_at, Kind.TX, name, gas=30_000, detail="withdraw", tx_hash=h, **tx)
            tb.at(withdraw_at, Kind.WITHDRAWN, name, wei=pays[name], tx_hash=h)
    tb.at(3200, Kind.TX, "verifier-0", gas=30_000, detail="withdraw", tx_hash="0xv", **tx)
    tb.at(3200, Kind.WITHDRAWN, "verifier-0", wei=ETH + ETH // 10, tx_hash="0xv")
    tb.at(3500, Kind.COMPUTE, "verifier-0", task=1, value=360.0, wei=10**16)
    tb.at(3600, Kind.ACCESS_MODEL, "initiator-0", task=1, value=0.88)
    for name, end in {
        "initiator-0": 90 * ETH,
        "contributor-0": 105 * ETH,
        "contributor-1": 102 * ETH,
        "contributor-2": 100 * ETH,
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
    assert metrics.wrong_outcome_rate(ev) == 0.0
    assert metrics.wrong_outcome_rate(market(accepted=True, honest=False).frame()) == 1.0
    rejected = market(accepted=False).frame()
    assert metrics.task_success_rate(rejected) == 0.0


def test_accuracy_is_what_the_initiator_gets_and_the_oracle_fusion_apart() -> None:
    ev = market().frame()
    assert metrics.initiator_accuracy(ev) == pytest.approx(0.88)
    assert metrics.initiator_accuracy(ev, accepted_only=True) == pytest.approx(0.88)
    assert metrics.oracle_fused_accuracy(ev) == pytest.approx(0.92)
    # rejected: the initiator gets no model (0); the oracle's fusion exists all the same
    rejected = market(accepted=False).frame().query("kind != 'access_model'")
    assert metrics.initiator_accuracy(rejected) == 0.0
    assert math.isnan(metrics.initiator_accuracy(rejected, accepted_only=True))
    assert metrics.oracle_fused_accuracy(rejected) == pytest.approx(0.92)
    assert math.isnan(metrics.oracle_fused_accuracy(rejected, accepted_only=True))
    # an accepted task whose initiator never fetched its model is left out, not zero
    assert math.isnan(metrics.initiator_accuracy(ev.query("kind != 'access_model'")))


def test_profit_is_exact_net_of_compute_and_counts_credit_owed() -> None:
    a = metrics.agents(market().frame()).set_index("agent")
    assert a.loc["contributor-0", "profit_wei"] == 5 * ETH
    assert a.loc["contributor-0", "credit_owed_wei"] == 0
    # contributor-2 was paid 1 ether it never withdrew: its balance is flat, its profit not
    assert a.loc["contributor-2", "profit_wei"] == 0
    assert a.loc["contributor-2", "credit_owed_wei"] == ETH
    assert a.loc["contributor-2", "net_profit_wei"] == ETH
    assert a.loc["verifier-0", "net_profit_wei"] == ETH - 10**16
    assert a.loc["verifier-1", "slashed_wei"] == ETH // 2
    assert a.loc["verifier-1", "gas_fee_wei"] == 3 * 10**13
    by = metrics.net_profit_by_behaviour(market().frame())
    assert by["contributor"] == {"honest": (5 * ETH + 2 * ETH) // 2, "free_rider": ETH}
    assert by["verifier"] == {"honest": ETH - 10**16, "lazy": -ETH}
    owed = metrics.credit_owed_by_behaviour(market().frame())
    assert owed["contributor"] == {"honest": 0, "free_rider": ETH}


def test_fairness_is_the_total_variation_between_pay_and_true_shares() -> None:
    ev = market().frame()
    # pay shares 5/8, 2/8, 1/8; positive truth shares 5/7, 2/7, 0: TV = 1/8
    assert metrics.payment_fairness(ev) == pytest.approx(1 - 1 / 8)
    # the honest committee's pay 5, 3, 0: TV = 5/8 - 5/7 ... = 5/56
    assert metrics.payment_fairness(ev, honest=True) == pytest.approx(1 - 5 / 56)
    assert metrics.share_fairness([1, 1], [0.5, 0.5]) == 1.0
    assert metrics.share_fairness([0, 4], [0.5, 0.0]) == 0.0
    assert math.isnan(metrics.share_fairness([0, 0], [0.5, 0.5]))  # no pay
    assert math.isnan(metrics.share_fairness([1, 1], [-0.1, 0.0]))  # no positive truth
    # scale-free: ten times the pay, or truths in other units, change nothing
    assert metrics.share_fairness([10, 30], [2.0, 6.0]) == 1.0


def test_an_all_honest_market_paying_by_truth_is_fair() -> None:
    tb = Table()
    tb.agent("initiator-0", "initiator")
    truths = [0.004, 0.0031, 0.0042, 0.0038, 0.0029]
    for i in range(5):
        tb.agent(f"contributor-{i}", "contributor")
    tb.at(10, Kind.TASK_CREATED, "initiator-0", task=1, wei=10 * ETH, detail="digits")
    tb.at(3000, Kind.TASK_FINALIZED, None, task=1, ok=True, value=0.9)
    tb.at(3000, Kind.GROUND_TRUTH, None, task=1, ok=True, value=0.91, truth=0.92)
    # pay from noisy honest measurements of the truths: within 10 % of each
    noisy = [t * (1 + e) for t, e in zip(truths, [0.1, -0.08, 0.05, -0.1, 0.07], strict=True)]
    pay = [int(8 * ETH * v / sum(noisy)) for v in noisy]
    for i in range(5):
        name = f"contributor-{i}"
        tb.at(3000, Kind.PAID, name, task=1, wei=pay[i])
        tb.at(3000, Kind.TRUE_CONTRIBUTION, name, task=1, truth=truths[i], wei=pay[i])
    ev = tb.frame()
    assert metrics.payment_fairness(ev) >= 0.95
    assert metrics.payment_fairness(ev, honest=True) == metrics.payment_fairness(ev)
    summary = metrics.summarize(ev)
    assert summary["payment_fairness_tasks"] == 1 and summary["payment_fairness_dropped"] == 0


def test_tasks_without_pay_are_counted_as_dropped_not_hidden() -> None:
    ev = market(accepted=False).frame()
    fair = metrics.fairness_table(ev)
    assert fair["dropped"].tolist() == ["no pay"]
    summary = metrics.summarize(ev)
    assert summary["payment_fairness_tasks"] == 0
    assert summary["payment_fairness_dropped"] == 1
    assert math.isnan(summary["payment_fairness"])
    # the honest committee would have paid: that measure is still defined
    assert summary["honest_payment_fairness_tasks"] == 1
    assert summary["task_outcomes"][0]["fairness_dropped"] == "no pay"


def test_payout_time_is_until_withdrawal_and_moves_with_later_withdrawals() -> None:
    ev = market().frame()
    first = metrics.payout_time(ev, "first")
    assert first == {"contributor": 3100 - 10, "initiator": 3050 - 10, "verifier": 3200 - 10}
    assert metrics.payout_time(ev, "last")["contributor"] == 3100 - 10
    later = market(withdraw_at=8000.0).frame()
    assert metrics.payout_time(later, "first")["contributor"] == 8000 - 10
    # contributor-2 never withdrew its 1 ether: unclaimed, per role
    assert metrics.unclaimed_credit(ev) == {"contributor": ETH, "initiator": 0, "verifier": 0}
    share = metrics.unclaimed_credit_share(ev)
    assert share["contributor"] == pytest.approx(1 / 8)
    assert share["verifier"] == 0.0


def test_a_withdrawal_clears_every_earlier_credit_of_its_agent() -> None:
    tb = market()
    tb.at(4500, Kind.PAID, "contributor-1", task=2, wei=ETH)
    tb.at(4600, Kind.PAID, "contributor-2", task=2, wei=ETH)
    tb.at(5000, Kind.TX, "contributor-2", ok=True, gas=30_000, detail="withdraw", tx_hash="0xl")
    tb.at(5000, Kind.WITHDRAWN, "contributor-2", wei=2 * ETH, tx_hash="0xl")
    c = metrics.credits(tb.frame()).set_index(["agent", "task"])
    assert c.loc[("contributor-2", 1), "withdrawn_at"] == 5000.0  # both tasks' credit
    assert c.loc[("contributor-2", 2), "withdrawn_at"] == 5000.0
    assert math.isnan(c["withdrawn_at"].to_dict()[("contributor-1", 2)])  # after withdrawing
    assert metrics.unclaimed_credit(tb.frame())["contributor"] == ETH


def test_gas_per_task_counts_creation_and_the_withdrawals_it_causes() -> None:
    ev = market().frame()
    # create 400k + submit 100k + failed report 30k + 4 withdrawals of 30k; not the register
    assert metrics.task_gas(ev) == {1: pytest.approx(650_000.0)}
    assert metrics.gas_per_task(ev) == pytest.approx(650_000.0)
    assert metrics.gas_unattributed(ev) == pytest.approx(50_000.0)
    tb = market()
    tb.at(4500, Kind.PAID, "contributor-2", task=2, wei=3 * ETH)
    tb.at(4600, Kind.TX, "contributor-2", ok=True, gas=40_000, detail="withdraw", tx_hash="0xs")
    tb.at(4600, Kind.WITHDRAWN, "contributor-2", wei=4 * ETH, tx_hash="0xs")
    split = metrics.task_gas(tb.frame())  # 1 ether of task 1, 3 of task 2: split 1 : 3
    assert split[1] == pytest.approx(660_000.0)
    assert split[2] == pytest.approx(30_000.0)


def test_one_rule_for_failed_transactions() -> None:
    tb = market()
    tb.at(4100, Kind.TX, "verifier-1", gas=21_000, fee_wei=0, wei=0)  # no outcome recorded
    ev = tb.frame()
    assert metrics.transactions(ev) == 9
    assert metrics.failed_transactions(ev) == 2  # the False one and the unconfirmed one
    summary = metrics.summarize(ev)
    assert (summary["transactions"], summary["failed_transactions"]) == (9, 2)


def test_fairness_and_attack_success() -> None:
    ev = market().frame()
    assert metrics.free_rider_share(ev) == pytest.approx(1 / 8)
    # contributor-1 got 2 instead of 3 and contributor-2 1 instead of 0: 2 of 8 moved = 12.5 %
    assert metrics.attack_success_rate(ev) == 1.0
    assert metrics.attack_success_rate(ev, tolerance=0.2) == 0.0


def test_agents_online_follows_joins_and_leaves() -> None:
    tb = market()
    tb.at(100, Kind.AGENT_LEFT, "verifier-1")
    tb.at(200, Kind.AGENT_JOINED, "verifier-1")
    online = metrics.agents_online(tb.frame())
    verifiers = online[online["role"] == "verifier"]["online"].tolist()
    assert verifiers == [1, 2, 1, 2]


def test_every_summary_metric_is_declared_with_its_range() -> None:
    summary = metrics.summarize(market().frame())
    flat = flatten_summary(summary)
    for name, value in flat.items():
        info = metrics.metric_info(name)
        assert info is not None, name
        low, high = metrics.metric_range(name)
        assert math.isnan(value) or low <= value <= high or info.unit == "wei", name
    assert metrics.metric_range("payment_fairness") == (0.0, 1.0)
    assert metrics.metric_range("net_profit_by_behaviour.verifier.lazy") == (-math.inf, math.inf)
    payout = metrics.metric_info("payout_time_first.contributor")
    assert payout is not None and payout.unit == "s"
    assert summary["agents"]["verifier-0"]["compute_cost_wei"] == 10**16


def test_credit_sums_do_not_wrap_at_int64() -> None:
    tb = market()
    for _ in range(2):  # 10 ether of one task to one verifier: past 2**63 wei
        tb.at(4100, Kind.STAKE_RETURNED, "verifier-0", task=9, wei=5 * ETH)
    table = metrics.payout_table(tb.frame())
    verifier = table[(table["role"] == "verifier") & (table["task"] == 9)]
    assert verifier["credited_wei"].tolist() == [10 * ETH]
    assert metrics.unclaimed_credit(tb.frame())["verifier"] == 10 * ETH
