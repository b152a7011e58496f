"""Task choice: whether an agent takes up a task it has seen.

With ``population.task_choice = "all"`` (the default, as in the paper) contributors join a task
with its ``participation`` chance and verifiers register for every task they can stake for.
With ``"expected_profit"`` an agent also estimates, before joining, what the task would pay it
and what the work would cost it, from what it can know at that moment: the task's on-chain
parameters (reward, verifier share, committee size), the market's size, its own speed and
data, the compute price (``costs``) and the gas price. It declines when the estimate is not
positive; the decision and its figures are recorded (``declined``: ``value`` the estimated
profit in ether, ``detail`` pay and cost).

The estimates are deliberately simple, the kind a participant could make: an equal share of
the contributors' pool among the expected contributors; a committee seat with probability
committee / verifiers, paid an equal share of the verifiers' pool; compute from the timing
model; gas from typical use per call. They ignore what agents cannot see in advance (the
others' quality, who is lazy, churn).
"""

from __future__ import annotations

from dataclasses import dataclass

from contracts.units import ETHER
from sim.scenario import Scenario, TaskSection

TYPICAL_GAS = {
    "submit_model": 190_000,
    "register_verifier": 105_000,
    "commit": 62_000,
    "reveal": 240_000,
    "report": 240_000,
    "withdraw": 35_000,
}
"""Gas a call typically uses (measured on ``quick.toml``); the fee is this × the gas price."""


@dataclass(frozen=True)
class Estimate:
    """What an agent expects a task to pay it and to cost it, in wei."""

    pay: float
    cost: float

    @property
    def profit(self) -> float:
        return self.pay - self.cost

    def describe(self) -> str:
        return f"expected pay {self.pay / ETHER:.6g} ether, cost {self.cost / ETHER:.6g} ether"


def expected_contributors(scenario: Scenario, task: TaskSection) -> float:
    """How many contributors a participant expects to submit to ``task``."""
    expected = scenario.population.contributors * task.participation
    return min(float(task.max_contributors), max(1.0, expected))


def _gas(scenario: Scenario, *calls: str) -> float:
    return sum(TYPICAL_GAS[c] for c in calls) * scenario.chain.gas_price


def contributor_estimate(
    scenario: Scenario, task: TaskSection, speed: float, shard_samples: int
) -> Estimate:
    """A contributor's view: its share of the contributors' pool vs training and gas."""
    pool = task.reward * (1.0 - task.verifier_share)
    pay = pool / expected_contributors(scenario, task)
    seconds = shard_samples * scenario.training.epochs * scenario.timing.train_s_per_sample
    cost = scenario.costs.compute_cost(seconds / speed) + _gas(scenario, "submit_model", "withdraw")
    return Estimate(pay, cost)


def evaluation_seconds(scenario: Scenario, models: int) -> float:
    """Reference seconds of one verification of ``models`` models: their forward passes over
    the verification data, and the fusion heads the contribution method trains."""
    timing, data, fusion = scenario.timing, scenario.data, scenario.fusion
    contribution = scenario.contribution
    if contribution.method == "shapley":
        exact = models <= contribution.shapley_exact_max
        # sampling may stop early at the target error: the budget is the cost at worst
        heads = 2**models - 1 if exact else models * contribution.shapley_permutations
    else:
        heads = models + 1  # the fused model, and one per model (alone or left out)
    phases = fusion.phase1_epochs + fusion.phase2_epochs
    epochs = fusion.epochs if fusion.strategy == "I" else phases
    forward = models * data.verification_size * timing.infer_s_per_sample
    head = heads * epochs * data.verification_size * timing.head_s_per_sample
    return forward + head


def verifier_estimate(scenario: Scenario, task: TaskSection, speed: float) -> Estimate:
    """A verifier's view: the chance of a committee seat times the seat's pay vs the work
    and gas of a seat, plus registering and withdrawing (a staked honest member expects to
    agree with the committee, so no slashing)."""
    seats = task.committee_size
    chance = min(1.0, seats / scenario.population.verifiers)
    pay = chance * task.reward * task.verifier_share / seats
    models = round(expected_contributors(scenario, task))
    work = scenario.costs.compute_cost(evaluation_seconds(scenario, models) / speed)
    calls = ("commit", "reveal") if task.commit_reveal else ("report",)
    seat_gas = _gas(scenario, *calls)
    cost = chance * (work + seat_gas) + _gas(scenario, "register_verifier", "withdraw")
    return Estimate(pay, cost)
