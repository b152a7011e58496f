"""The self-verifier: a contributor that also verifies the task it submitted to (a Sybil).

Under the paper's contract roles are told apart only by address, and nothing stops one address
from holding both on one task (issue 14, finding 4). The self-verifier trains and submits
honestly, then registers as a verifier of the same task with the same address, staking the
task's verifier stake. When drawn it does the honest verification work and reports it, except
that its own model's contribution score is raised by ``boost`` (and its accuracy is at least
the MAFR plus ``margin``, so it approves and pays out): the committee's aggregate score of its
model rises, and with it its share of the contributor pool, taken from the other contributors.
As a member it also takes its share of the verifier pool. Not drawn, it gets its stake back and
has spent only gas.

Closed by ``tasks[i].exclusive_roles``: the registration reverts ("register_verifier:
contributor cannot verify") and it is an honest contributor that paid one failed
transaction. Not closed by any switch: a second address the contributor funds is unlinked on
chain (``second_account = true`` registers through one: the switch does not stop it); it is
a colluding verifier favouring the contributor (as the ``colluding`` kind with ``targets``),
and only a larger honest committee or ``tasks[i].tolerance`` limits what it moves.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated

from contracts.chain import Account
from contracts.units import ETHER, Wei
from sim.config import FRACTION, Checked, Interval
from sim.recorder import Kind
from sim.verification import VerificationInput, VerificationResult
from sim.watcher import TaskEntry

from .base import ContributorStrategy, Process, Report, mafr, verify_honestly

if TYPE_CHECKING:
    from agents.contributor import Contributor


@dataclass(frozen=True)
class SelfVerifierParams(Checked):
    """``[behaviours.self_verifier]``: how much the Sybil favours its own model."""

    boost: Annotated[float, FRACTION] = 0.5
    """Added to its own model's contribution score in its report (capped at 1)."""
    margin: Annotated[float, FRACTION] = 0.05
    """It reports a fused accuracy of at least the MAFR plus this (it always approves)."""
    second_account: bool = False
    """Register through a second account it opens and funds (the stake plus
    ``gas_allowance_ether``) instead of its own address: unlinked on chain, so
    ``exclusive_roles`` does not stop it."""
    gas_allowance_ether: Annotated[float, Interval(0.01, None, closed="both")] = 0.02
    """Ether the second account gets beside the stake, for its transactions' gas."""


class SelfVerifier(ContributorStrategy[SelfVerifierParams]):
    """Trains and submits honestly, then registers as a verifier of the same task with the
    same address and, when drawn, reports its own model's score inflated."""

    def __init__(self, params: SelfVerifierParams, name: str = "self_verifier") -> None:
        super().__init__(params, name)
        self.account: Account | None = None
        """Its second account, once opened (``second_account``)."""

    def produce(self, agent: Contributor, task: TaskEntry) -> Process:
        return (yield from self.train(agent, task, label_flip_rate=0.0))

    def after_submit(self, agent: Contributor, task: TaskEntry) -> Process:
        def evaluate(entry: TaskEntry, inputs: VerificationInput) -> Process:
            return self.inflated(agent, entry, inputs)

        account = None
        if self.params.second_account:
            account = yield from self.second(agent, task)
            if account is None:
                return None
        yield from agent.serve(task, evaluate, account)

    def second(self, agent: Contributor, task: TaskEntry) -> Process:
        """Its second account (opened once), funded for the task's stake; None if the
        transfer failed."""
        if self.account is None:
            rng = agent.world.rng("sybil", agent.name, 0)
            self.account = agent.world.open_sybil(agent.name, rng)
        need = task.params.verifier_stake + round(self.params.gas_allowance_ether * ETHER)
        have = agent.world.balance_of(self.account.address)
        if have < need:
            receipt = yield from agent.world.transfer(
                agent.name, agent.account, self.account.address, Wei(need - have)
            )
            if not receipt.ok:
                agent.record(Kind.FAILED, task=task.created.task_id, detail=receipt.revert_reason)
                return None
        return self.account

    def inflated(self, agent: Contributor, task: TaskEntry, inputs: VerificationInput) -> Process:
        """The honest report with its own model's score raised."""
        result: VerificationResult = yield from verify_honestly(agent, task, inputs)
        own = agent.account.address
        boost = self.params.boost
        scores = tuple(
            min(1.0, s + boost) if who == own else s
            for s, who in zip(result.scores, inputs.contributors, strict=True)
        )
        accuracy = max(result.accuracy, min(1.0, mafr(task) + self.params.margin))
        return Report(accuracy, scores, result)
