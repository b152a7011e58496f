"""The grinder: an initiator who chooses its committee by retrying the draw block after block.

Under the paper's contract the committee seed is ``keccak(prevrandao ‖ task id)`` of the block
that includes the draw, and anyone may draw. The grinder registers Sybil verifiers of its
own (fresh accounts it funds with the stake), deploys a helper contract (``contracts/attacks/
Grinder.vy``) that draws and reverts unless a majority of the committee are its Sybils, and
calls it in every block until a draw stands. Its Sybils then report the task as failing: the
majority rejects it, the contributors' pool is refunded, the verifier pool and the slashed
stake of the honest member who disagreed go to the Sybils — and the grinder takes the
submitted models, which it never pays for. Afterwards the Sybils withdraw and send every wei
back to the grinder, so its profit shows in its own balance.

Closed by ``tasks[i].future_seed``: the draw uses a block hash fixed before anyone could know
it, every retry gives the same committee, and the grinder wins only when that one draw
favours it (the honest odds). When it cannot win it draws like anyone, and its Sybils report
honestly (it evaluates the models on its own verification data) rather than be slashed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Annotated

import numpy as np

from agents.base import KEY_WAIT_S
from contracts.attacks import MAX_ACCOMPLICES
from contracts.attacks import Grinder as GrinderContract
from contracts.chain import Account
from contracts.taskmarket import commitment, new_salt
from contracts.units import Address, TaskId, Wei, to_ppm
from sim.config import Checked, Interval
from sim.recorder import Kind
from sim.verification import VerificationInput, verify
from sim.watcher import TaskEntry
from sim.world import TRANSFER_GAS

from .base import InitiatorStrategy, Process

if TYPE_CHECKING:
    from agents.initiator import Initiator

GAS_RESERVE_WEI = 10**16
"""Ether each Sybil gets beside its stake, for the gas of registering, reporting and
withdrawing (the rest comes back to the grinder)."""


@dataclass(frozen=True)
class GrinderParams(Checked):
    """``[behaviours.grinder]``: how many Sybils, how many blocks of trying."""

    accomplices: Annotated[int, Interval(0, MAX_ACCOMPLICES)] = 0
    """Sybil verifiers it registers per task (0: a majority of the committee, the fewest
    that decide a majority vote)."""
    max_tries: Annotated[int, Interval(1, None)] = 60
    """Blocks in which it tries the draw before it gives up and draws like anyone (it also
    stops three blocks before the draw window closes, so its Sybils can still report)."""


@dataclass
class _Plot:
    """One task's attack: the helper contract, the Sybils, and how the grinding went."""

    contract: GrinderContract
    need: int
    sybils: list[Account] = field(default_factory=list)
    won: bool = False
    tries: int = 0


class Grinder(InitiatorStrategy[GrinderParams]):
    """Grinds the committee draw with a helper contract until its Sybils hold a majority,
    then has them reject the task: the escrow comes back and it keeps the models."""

    def __init__(self, params: GrinderParams, name: str = "honest") -> None:
        super().__init__(params, name)
        self._plots: dict[int, _Plot] = {}
        self._rng: np.random.Generator | None = None

    def _stream(self, agent: Initiator) -> np.random.Generator:
        """The Sybils' keys and salts: a stream of the grinder's own (one per agent)."""
        if self._rng is None:
            self._rng = agent.world.rng("sybil", agent.index)
        return self._rng

    # ---------------------------------------------------------------- before the deadline

    def prepare(self, agent: Initiator, entry: TaskEntry) -> Process:
        world, tid = agent.world, TaskId(entry.created.task_id)
        chain = world.market.chain
        receipt = yield from agent.transact(
            lambda: GrinderContract.deploy(chain, agent.account), task=tid
        )
        if not receipt.ok or receipt.contract_address is None:
            agent.record(Kind.FAILED, task=tid, detail=receipt.revert_reason)
            return None
        world.adopt(agent.name, receipt.contract_address)
        need = entry.params.committee_size // 2 + 1
        plot = _Plot(GrinderContract(chain, receipt.contract_address), need)
        self._plots[tid] = plot
        stake = entry.params.verifier_stake
        for _ in range(self.params.accomplices or need):
            sybil = world.open_sybil(agent.name, self._stream(agent))
            funded = yield from world.transfer(
                agent.name, agent.account, sybil.address, Wei(stake + GAS_RESERVE_WEI), task=tid
            )
            if not funded.ok:
                continue
            registered = yield from agent.transact(
                partial(world.market.register_verifier, sybil, tid, stake), task=tid
            )
            if registered.ok:
                plot.sybils.append(sybil)
        return None

    # ---------------------------------------------------------------- the draw

    def draw(self, agent: Initiator, entry: TaskEntry) -> Process:
        tid = TaskId(entry.created.task_id)
        plot = self._plots.get(tid)
        if plot is None or len(plot.sybils) < plot.need:
            members: tuple[Address, ...] = yield from agent.draw(entry)
            return members
        world, market, p = agent.world, agent.world.market, entry.params
        yield world.until(p.draw_opens())
        if p.future_seed:  # the request, from its own account: grind() would revert it
            yield from agent.transact(lambda: market.draw_committee(agent.account, tid), task=tid)
        last = p.draw_closes() - 3 * world.scenario.chain.block_interval_s
        addresses = [s.address for s in plot.sybils]
        while plot.tries < self.params.max_tries and entry.committee is None:
            if world.timestamp() >= last:
                break
            plot.tries += 1
            receipt = yield from agent.transact(
                lambda: plot.contract.grind(
                    agent.account, market.address, tid, addresses, plot.need
                ),
                task=tid,
            )
            if receipt.ok:
                plot.won = True
                break
            reason = receipt.revert_reason or ""
            if "seed block not sealed" in reason:
                continue
            if "committee not ours" not in reason or p.future_seed:
                break  # with a fixed seed block every retry draws the same committee
        if entry.committee is None:  # gave up: draw like anyone
            yield from agent.draw(entry)
        members = entry.committee or ()
        ours = sum(1 for a in addresses if a in members)
        agent.record(
            Kind.ATTACK,
            task=tid,
            ok=plot.won,
            value=float(plot.tries),
            detail=f"grinder: {ours} of {len(members)} members its Sybils after {plot.tries} "
            f"tries ({'won' if plot.won else 'lost'}); Sybils " + ", ".join(addresses),
        )
        return members

    # ---------------------------------------------------------------- the Sybils' reports

    def after_draw(
        self, agent: Initiator, entry: TaskEntry, members: tuple[Address, ...]
    ) -> Process:
        tid = TaskId(entry.created.task_id)
        plot = self._plots.get(tid)
        if plot is None:
            return None
        ours = [s for s in plot.sybils if s.address in members]
        if not ours:
            return None
        if plot.won:  # below any MAFR: the majority rejects, the escrow comes back
            accuracy, scores = 0, [0] * len(agent.world.market.submissions(tid))
        else:
            accuracy, scores = yield from self._honest_report(agent, entry)
        yield from self._report(agent, entry, ours, accuracy, scores)
        return None

    def _honest_report(self, agent: Initiator, entry: TaskEntry) -> Process:
        """What an honest member reports (the grinder has the verification data)."""
        world, tid = agent.world, TaskId(entry.created.task_id)
        subs = world.market.submissions(tid)
        seed = entry.evaluation_seed(world.integer_seed("sybil-verify", agent.index))
        inputs = VerificationInput.of(tid, subs, world.learning.verification_set(), seed)
        fetched: list[bytes | None] = []
        for cid in inputs.cids:
            fetched.append((yield from world.download(agent.name, cid)))
        # encrypted models: the keys its Sybil members were sent
        wait = min(entry.deadlines()[0], world.timestamp() + KEY_WAIT_S)
        blobs = yield from agent.open_models(entry, inputs.cids, fetched, wait)
        result = verify(world.learning, inputs, blobs)
        yield from agent.compute(result.reference_seconds, tid, "verification for its Sybils")
        return to_ppm(result.accuracy), [to_ppm(s, signed=True) for s in result.scores]

    def _report(
        self,
        agent: Initiator,
        entry: TaskEntry,
        sybils: list[Account],
        accuracy: int,
        scores: list[int],
    ) -> Process:
        """Each Sybil reports (or commits, then reveals after the commit deadline)."""
        world, market, tid = agent.world, agent.world.market, TaskId(entry.created.task_id)
        if not entry.params.commit_reveal:
            for s in sybils:
                yield from agent.transact(
                    partial(market.report, s, tid, accuracy, scores), task=tid
                )
            return None
        salts: dict[Address, bytes] = {}
        for s in sybils:
            salt = new_salt(self._stream(agent))
            digest = commitment(tid, s.address, accuracy, scores, salt)
            receipt = yield from agent.transact(partial(market.commit, s, tid, digest), task=tid)
            if receipt.ok:
                salts[s.address] = salt
        yield world.until(entry.deadlines()[0])
        for s in sybils:
            if s.address in salts:
                salt = salts[s.address]
                yield from agent.transact(
                    partial(market.reveal, s, tid, accuracy, scores, salt),
                    task=tid,
                )
        return None

    # ---------------------------------------------------------------- the spoils

    def after_finalize(self, agent: Initiator, entry: TaskEntry) -> Process:
        """The Sybils withdraw and send everything back; a won task's models are taken."""
        tid = TaskId(entry.created.task_id)
        plot = self._plots.pop(tid, None)
        if plot is None:
            return None
        world = agent.world
        fee = TRANSFER_GAS * world.scenario.chain.gas_price
        for s in plot.sybils:
            yield from agent.withdraw_if_owed(tid, s)
            rest = world.balance_of(s.address) - fee
            if rest > 0:
                yield from world.transfer(agent.name, s, agent.account.address, Wei(rest), task=tid)
        if plot.won and entry.finalized is not None and not entry.finalized.accepted:
            yield from agent.access_model(entry, paid=False)
            agent.record_taken(entry)
        return None
