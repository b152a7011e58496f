"""The registrant flood: one verifier fills a task's registrant pool with Sybil accounts.

The contract caps a task's registrants at ``MAX_REGISTRANTS`` (256; 128 before issue 15's
capacity work) and, with the paper's rules, accepts a stake of zero (issue 14, finding 4).
The flooder registers itself and up to ``sybils`` further accounts it opens and funds from
its own balance (each gets the stake plus ``gas_allowance_ether`` for its transactions), all
in the first blocks after the task appears.
Verifiers who come later are refused ("registrant pool is full"), and the committee is drawn
almost only from the flood. The flood's members then report what its owner wants without
doing the work: one made-up report (as the ``lazy`` kind makes up), the same from every
member, so they agree with each other and take the verifier pool; the honest verifiers that
got in before it are rarely drawn. Non-drawn Sybils get their stake back at the draw and,
like the drawn ones, withdraw after the task settles; their balances stay the flooder's (the
directory books every Sybil account to it).

Cost: the gas of one transfer and one registration per Sybil (about 0.012 ether for 128
registrations at 1 gwei; twice that for a full 256 pool) and, with a stake, that stake
locked from registration to the draw (``costs.stake_rate_per_year`` prices it).
``tasks[i].min_stake_ether`` makes the initiator's stake at least that much: the flood then
needs ``sybils × stake`` ether at once, so its size is bounded by the flooder's wealth, and
each slot carries the cost of capital.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated

import simpy

from contracts.chain import Account
from contracts.units import ETHER, MAX_REGISTRANTS, Wei
from sim.config import Checked, Interval
from sim.distributions import Dist
from sim.recorder import Kind
from sim.verification import VerificationInput
from sim.watcher import TaskEntry

from .base import Process, Report, VerifierStrategy
from .lazy import check_accuracy, default_accuracy, guess

if TYPE_CHECKING:
    from agents.verifier import Verifier


@dataclass(frozen=True)
class FloodParams(Checked):
    """``[behaviours.registrant_flood]``: the flood's size and what its members report."""

    sybils: Annotated[int, Interval(0, MAX_REGISTRANTS - 1, closed="both")] = MAX_REGISTRANTS - 1
    """Further accounts registered per task (capped by the free slots and what the flooder
    can fund); the default with its own fills the pool."""
    gas_allowance_ether: Annotated[float, Interval(0, None)] = 0.02
    """Ether each Sybil gets beside the stake, for its transactions' gas (a transaction needs
    its gas limit, 8 million gas, times the gas price in the account)."""
    accuracy: Dist = field(default_factory=default_accuracy)
    """Fused accuracy the members report without computing (as the lazy kind)."""

    def __post_init__(self) -> None:
        check_accuracy("accuracy", self.accuracy)


class RegistrantFlood(VerifierStrategy[FloodParams]):
    """Registers itself and many funded Sybil accounts to fill the registrant pool, then
    reports one made-up report from every drawn member."""

    def __init__(self, params: FloodParams, name: str = "registrant_flood") -> None:
        super().__init__(params, name)
        self.accounts: list[Account] = []
        """The Sybil accounts opened so far (reused from task to task)."""

    def evaluate(self, agent: Verifier, task: TaskEntry, inputs: VerificationInput) -> Process:
        yield agent.env.timeout(0)
        accuracy, scores = guess(agent, task, len(inputs.cids), self.params.accuracy)
        return Report(accuracy, scores, agent.truth(inputs))

    def work(self, agent: Verifier, task: TaskEntry) -> Process | None:
        return self.flood(agent, task)

    # ---------------------------------------------------------------- the flood

    def flood(self, agent: Verifier, task: TaskEntry) -> Process:
        """Register, fill the pool, serve with every drawn account, settle."""
        registered = yield from self.register_all(agent, task)
        members = yield from agent.await_committee(task)
        drawn = [a for a in registered if members is not None and a.address in members]
        if drawn:
            yield from self.serve(agent, task, drawn)
        yield from agent.settle(task)
        yield from parallel(
            agent, (agent.withdraw_if_owed(task.created.task_id, a) for a in self.accounts)
        )

    def register_all(self, agent: Verifier, task: TaskEntry) -> Process:
        """Its own registration and the Sybils' (funded first); the accounts that got in."""
        tid = task.created.task_id
        stake = task.params.verifier_stake
        allowance = Wei(stake + round(self.params.gas_allowance_ether * ETHER))
        taken = len(agent.world.market.registrants(tid))
        free = MAX_REGISTRANTS - taken - 1
        spare = agent.balance() - stake - 2 * allowance
        affordable = max(0, spare // allowance) if allowance else free
        n = max(0, min(self.params.sybils, free, affordable))
        sybils = self.sybil_accounts(agent, n)
        funding = [
            agent.world.transfer(agent.name, agent.account, s.address, Wei(allowance - have))
            for s in sybils
            if (have := agent.world.balance_of(s.address)) < allowance
        ]
        own, *_ = yield from parallel(agent, [agent.register(task), *funding])
        results = yield from parallel(agent, (agent.register(task, s) for s in sybils))
        mine = [agent.account] if own else []
        return mine + [s for s, ok in zip(sybils, results, strict=True) if ok]

    def sybil_accounts(self, agent: Verifier, n: int) -> list[Account]:
        """``n`` Sybil accounts: those opened before, then fresh ones (keys from the agent's
        own ``sybil`` stream)."""
        while len(self.accounts) < n:
            rng = agent.world.rng("sybil", agent.name, len(self.accounts))
            self.accounts.append(agent.world.open_sybil(agent.name, rng))
        return self.accounts[:n]

    def serve(self, agent: Verifier, task: TaskEntry, drawn: list[Account]) -> Process:
        """One made-up report (no work), sent from every drawn account at once."""
        from agents.verifier import TaskMemory

        tid = task.created.task_id
        agent.record(Kind.SELECTED, task=tid, value=float(len(drawn)), detail="flood members")
        inputs = yield from agent.await_inputs(task)
        if inputs is None:
            return None
        report = yield from self.evaluate(agent, task, inputs)
        yield from parallel(
            agent,
            (agent.submit_report(task, TaskMemory(selected=True, report=report), a) for a in drawn),
        )
        return None


def parallel(agent: Verifier, processes: Iterable[Process]) -> Process:
    """Run ``processes`` at once (one transaction each lands in the same block); their
    results in order."""
    env = agent.env
    started = [env.process(p) for p in processes]
    if not started:
        return []
    done = yield simpy.AllOf(env, started)
    return [done[p] for p in started]
