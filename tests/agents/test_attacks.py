"""Attacks on the protocol, each without and with its defence, on the smallest market.

The answers are known by construction: an initiator who draws in the last second leaves no
member time to commit, so all are absent and slashed and the stakes flow to it — unless
reporting time counts from the draw; an initiator who cancels after reading the submitted
models pays nothing for them — unless the contract locks cancel once a model is submitted.
A contributor that verifies its own task raises its own pay — unless roles are exclusive; a
verifier that floods the registrant pool with Sybils takes the committee — unless a minimum
stake makes every slot cost its stake; a member that withholds a dissenting reveal is slashed
as much as a dissenter, saving only the reveal's gas.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

import sim
from contracts.units import MAX_REGISTRANTS

TINY = Path(__file__).resolve().parents[1] / "data" / "tiny.toml"
ETH = 10**18

pytestmark = pytest.mark.slow


def run(kind: str, *settings: str) -> sim.RunResult:
    return sim.run(
        TINY, seed=0, overrides=[f"population.initiator_behaviours={{{kind}=1}}", *settings]
    )


def run_with(*settings: str) -> sim.RunResult:
    return sim.run(TINY, seed=0, overrides=list(settings))


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


def agent_rows(result: sim.RunResult, kind: str, agent: str) -> pd.DataFrame:
    found = rows(result, kind)
    return found[found["agent"] == agent]


def wei(frame: pd.DataFrame) -> int:
    return sum(int(w) for w in frame["wei"])


def the_agent(result: sim.RunResult, behaviour: str, role: str | None = None) -> str:
    funded = rows(result, "funded")
    funded = funded[funded["behaviour"] == behaviour]
    if role is not None:
        funded = funded[funded["role"] == role]
    return str(funded["agent"].iloc[0])


def test_a_self_verifier_raises_its_own_pay_unless_roles_are_exclusive() -> None:
    # three honest verifiers and the Sybil: at seed 0 the committee of 3 draws it
    sybil = ("population.contributor_behaviours={self_verifier=1}", "population.verifiers=3")
    attacked = run_with(*sybil)
    me = the_agent(attacked, "self_verifier")
    assert not agent_rows(attacked, "reported", me).empty  # it served on its own task
    paid = wei(agent_rows(attacked, "paid", me))
    honest_pay = wei(agent_rows(attacked, "true_contribution", me))
    assert paid > honest_pay + ETH // 10  # verifier pay and an inflated share
    others = rows(attacked, "true_contribution")
    others = others[others["agent"] != me]
    paid_others = rows(attacked, "paid")
    paid_others = paid_others[paid_others["agent"].isin(set(others["agent"]))]
    assert wei(paid_others) < wei(others)  # taken from the other contributors
    defended = run_with(*sybil, "tasks[0].exclusive_roles=true")
    me = the_agent(defended, "self_verifier")
    assert "contributor cannot verify" in " ".join(agent_rows(defended, "failed", me)["detail"])
    assert agent_rows(defended, "reported", me).empty
    paid = wei(agent_rows(defended, "paid", me))
    assert abs(paid - wei(agent_rows(defended, "true_contribution", me))) < ETH // 100
    # a second account it funds is unlinked on chain: role exclusion does not stop it
    second = run_with(
        *sybil, "tasks[0].exclusive_roles=true", "behaviours.self_verifier.second_account=true"
    )
    me = the_agent(second, "self_verifier")
    assert "Sybil" in agent_rows(second, "registered", me)["detail"].iloc[0]
    assert agent_rows(second, "failed", me).empty
    assert wei(agent_rows(second, "paid", me)) > honest_pay + ETH // 10


def test_a_registrant_flood_takes_the_committee_unless_slots_cost_stake() -> None:
    flood = ("population.verifier_behaviours={registrant_flood=1}", "tasks[0].slash_fraction=0.0")
    attacked = run_with(*flood, "tasks[0].verifier_stake_ether=0.0")
    me = the_agent(attacked, "registrant_flood")
    registered = rows(attacked, "registered")
    assert len(registered) == MAX_REGISTRANTS  # the pool is full (256 since issue 15)
    drawn = rows(attacked, "committee_drawn")["detail"].iloc[0]
    assert drawn.count(me) == 3  # every member is one of the flood's accounts
    profits = attacked.summary["net_profit_by_behaviour"]["verifier"]
    assert profits["registrant_flood"] > 1.0 * ETH > profits["honest"]
    defended = run_with(
        *flood, "tasks[0].verifier_stake_ether=30.0", "tasks[0].min_stake_ether=30.0"
    )
    me = the_agent(defended, "registrant_flood")
    assert len(agent_rows(defended, "registered", me)) == 1  # 100 ether funds no Sybil beside it


def test_a_selective_revealer_withholds_a_dissent_at_the_price_of_dissent() -> None:
    # the committee is every verifier: the selective revealer and two that always reject
    committee = ("population.verifiers=3", "tasks[0].committee_size=3")
    attacked = run_with(
        *committee, "population.verifier_behaviours={selective_revealer=1, always_reject=2}"
    )
    me = the_agent(attacked, "selective_revealer")
    assert "withheld" in " ".join(agent_rows(attacked, "missed", me)["detail"])
    assert list(agent_rows(attacked, "slashed", me)["detail"]) == ["absent"]
    assert "2 reports" in rows(attacked, "task_finalized")["detail"].iloc[0]
    dissent = run_with(*committee, "population.verifier_behaviours={always_reject=2}")
    honest = the_agent(dissent, "honest", "verifier")
    assert list(agent_rows(dissent, "slashed", honest)["detail"]) == ["disagree"]
    assert "3 reports" in rows(dissent, "task_finalized")["detail"].iloc[0]
    saved = agent_profit(attacked, me) - agent_profit(dissent, honest)
    assert 0 < saved < ETH // 1000  # the reveal's gas, nothing more


def test_a_larger_slash_for_silence_makes_the_selective_revealer_pay_more_than_dissent() -> None:
    # unrevealed_slash_fraction 1.0 against slash_fraction 0.5: silence costs the whole stake
    setup = ("population.verifiers=3", "tasks[0].committee_size=3")
    on = "tasks[0].unrevealed_slash_fraction=1.0"
    attacked = run_with(
        *setup, on, "population.verifier_behaviours={selective_revealer=1, always_reject=2}"
    )
    me = the_agent(attacked, "selective_revealer")
    slashed = agent_rows(attacked, "slashed", me)
    assert list(slashed["detail"]) == ["absent"] and slashed["wei"].tolist() == [ETH]
    dissent = run_with(*setup, on, "population.verifier_behaviours={always_reject=2}")
    honest = the_agent(dissent, "honest", "verifier")
    assert agent_rows(dissent, "slashed", honest)["wei"].tolist() == [ETH // 2]
    lost = agent_profit(dissent, honest) - agent_profit(attacked, me)
    assert lost > ETH // 2 - ETH // 1000  # half a stake more, less the reveal's gas


def agent_profit(result: sim.RunResult, agent: str) -> int:
    return int(result.summary["agents"][agent]["net_profit_wei"])
