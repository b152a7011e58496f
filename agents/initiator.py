"""The application initiator: defines tasks, escrows rewards, hands out verification data.

For each task: publish the task spec to storage, create the task with the reward in escrow,
draw the committee once submissions close, send the committee the verification data
(off-chain, with latency), finalize after the reveal deadline, withdraw any refund, and —
when the task was accepted — fetch the paid models (the paper's access after payment), fuse
them and record the accuracy of the model it obtained on held-out data.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from contracts.taskmarket import (
    Aggregation,
    CommitteeDrawn,
    MarketEvent,
    TaskCreated,
    TaskFinalized,
    TaskParams,
    typed_events,
)
from contracts.units import BPS, ETHER, PPM, Address, Cid, TaskId, Wei
from sim.config import to_table
from sim.recorder import Kind
from sim.scenario import TaskSection
from sim.types import Role
from sim.watcher import TaskEntry
from sim.world import Message

from .base import KEY_WAIT_S, Participant, Process

if TYPE_CHECKING:
    from agents.strategies.base import InitiatorStrategy

_AGGREGATION = {
    "majority": Aggregation.MAJORITY,
    "median": Aggregation.MEDIAN,
    "trimmed_mean": Aggregation.TRIMMED_MEAN,
}


class Initiator(Participant):
    role = Role.INITIATOR
    behaviour: InitiatorStrategy[Any]

    def schedule(self, template: TaskSection) -> list[float]:
        """Creation times of the template's tasks (first at start_s, then interarrivals)."""
        times = [template.start_s]
        for _ in range(template.count - 1):
            times.append(times[-1] + template.interarrival_s.draw(self.stream))
        return times

    def start(self, template: TaskSection, at: float) -> None:
        self.spawn(self.run_task(template, at))

    # ---------------------------------------------------------------- one task

    def run_task(self, template: TaskSection, at: float) -> Process:
        yield self.env.timeout(max(0.0, at - self.env.now))
        spec = self.task_spec(template)
        spec_cid = yield from self.world.upload(self.name, spec)
        if spec_cid is None:  # the failure is recorded; no task without its description
            return None
        entry = yield from self.create(template, spec_cid)
        if entry is None:
            return None
        tid = entry.created.task_id
        strategy = self.strategy_for(tid)
        yield from strategy.prepare(self, entry)
        cancel_at = strategy.cancel_at(self, entry)
        if cancel_at is not None:
            yield self.world.until(cancel_at)
            if strategy.peek(self, entry):
                yield from self.access_model(entry, paid=False)
            cancelled = yield from self.cancel(entry)
            if cancelled:
                yield from self.withdraw_if_owed(tid)
                return None
        members = yield from strategy.draw(self, entry)
        if members:
            self.hand_out_data(entry, strategy.hand_out(self, entry, members))
            yield from strategy.after_draw(self, entry, members)
        yield self.world.until(entry.deadlines()[1])
        yield from self.finalize(entry)
        yield from self.withdraw_if_owed(tid)
        yield from strategy.after_finalize(self, entry)
        if entry.finalized is not None and entry.finalized.accepted:
            if entry.params.sealed_window_s > 0 or entry.template.encrypted_models:
                yield from self.claim_access(entry)
            yield from self.access_model(entry)
        return None

    def task_spec(self, template: TaskSection) -> bytes:
        """The task description published to storage (its CID goes on chain)."""
        s = self.world.scenario
        training = to_table(s.training)
        # how the simulator computes the training is no part of what the initiator publishes
        training.pop("batched")
        if (privacy := training.get("privacy")) is None:
            training.pop("privacy", None)  # no DP asked for: the spec reads as it always did
        else:  # DP training settings left unset: the spec reads as before they existed
            training["privacy"] = {k: v for k, v in privacy.items() if v is not None}
        doc = {
            "task": template.name,
            "initiator": self.name,
            "dataset": s.data.dataset,
            "input_shape": [1, 28, 28],
            "recommended_model": to_table(s.model),
            "training": training,
            "mafr": template.mafr,
            "verification_samples": s.data.verification_size,
        }
        return json.dumps(doc, sort_keys=True).encode()

    def params(self, template: TaskSection) -> TaskParams:
        now = self.world.timestamp()
        sub = now + round(template.submission_window_s)
        commit = sub + round(template.commit_window_s)
        reveal = commit + round(template.reveal_window_s) if template.commit_reveal else commit
        return TaskParams(
            mafr_bps=round(template.mafr * BPS),
            committee_size=template.committee_size,
            verifier_share_bps=round(template.verifier_share * BPS),
            submission_deadline=sub,
            commit_deadline=commit,
            reveal_deadline=reveal,
            verifier_stake=template.verifier_stake,
            slash_bps=round(template.slash_fraction * BPS),
            commit_reveal=template.commit_reveal,
            aggregation=(
                Aggregation.CLAIM
                if template.settlement == "claim"
                else _AGGREGATION[template.aggregation]
            ),
            trim_bps=round(template.trim_fraction * BPS),
            tolerance_ppm=round(template.tolerance * PPM),
            report_window_s=round(template.report_window_s),
            future_seed=template.future_seed,
            no_cancel_after_submission=template.no_cancel_after_submission,
            exclusive_roles=template.exclusive_roles,
            min_stake=Wei(round(template.min_stake_ether * ETHER)),
            burn_orphan_slashes=template.burn_orphan_slashes,
            unrevealed_slash_bps=round(template.unrevealed_slash_fraction * BPS),
            undrawn_pays_contributors=template.undrawn_pays_contributors,
            sealed_window_s=round(template.sealed_window_s),
        )

    def create(self, template: TaskSection, spec_cid: Cid) -> Process:
        market, watcher = self.world.market, self.world.watcher
        params = self.params(template)

        def send() -> int:
            ticket = market.create_task(self.account, spec_cid, params, template.reward)
            watcher.expect_task(ticket, params, template)
            return ticket

        receipt = yield from self.transact(send)
        if not receipt.ok:
            self.record(Kind.FAILED, detail=receipt.revert_reason)
            return None
        created = next(e for e in typed_events(receipt) if isinstance(e, TaskCreated))
        self.bind(created.task_id)
        self.book(created.task_id, -(receipt.fee + receipt.value))
        self.record(
            Kind.TASK_CREATED,
            task=created.task_id,
            wei=template.reward,
            cid=spec_cid,
            detail=template.name,
        )
        return watcher.tasks[created.task_id]

    def draw(self, entry: TaskEntry) -> Process:
        """Draw the committee at the strategy's time (by default when submissions close); the
        members' addresses."""
        tid = entry.created.task_id
        yield self.world.until(self.strategy_for(tid).draw_at(self, entry))
        market = self.world.market
        # With future_seed the first call only fixes the seed block (the next one) and the
        # draw needs a call in a block after it: up to three calls, one per block.
        for _call in range(3 if entry.params.future_seed else 1):
            if entry.committee is not None:
                break
            receipt = yield from self.transact(
                lambda: market.draw_committee(self.account, tid), task=tid
            )
            waiting = receipt.ok or "seed block not sealed yet" in (receipt.revert_reason or "")
            if entry.params.future_seed and waiting and entry.committee is None:
                continue
            if not receipt.ok and entry.committee is None:
                self.record(Kind.FAILED, task=tid, detail=receipt.revert_reason)
                return ()
        if entry.committee is None:
            drawn = yield self.world.watcher.wait_for(
                CommitteeDrawn,
                lambda e: isinstance(e, CommitteeDrawn) and e.task_id == tid,
                task=tid,
            )
            return drawn.members
        return entry.committee

    def cancel(self, entry: TaskEntry) -> Process:
        """Cancel the task (its strategy decided to): the escrow and stakes go back."""
        tid = entry.created.task_id
        market = self.world.market
        receipt = yield from self.transact(lambda: market.cancel(self.account, tid), task=tid)
        if not receipt.ok:
            self.record(Kind.FAILED, task=tid, detail=receipt.revert_reason)
        yield self.world.notice(self.name)
        return bool(receipt.ok)

    def hand_out_data(self, entry: TaskEntry, members: tuple[Address, ...]) -> None:
        """Send each committee member the verification set (off-chain, with latency).

        The message names the run's verification set; its size is what handing the samples
        over moves.
        """
        data = self.world.learning.verification_set()
        for address in members:
            name = self.world.name_of(address)
            if name is None:
                continue
            message = Message(
                "verification_data", self.name, entry.created.task_id, data, data.nbytes
            )
            self.world.send_message(self.name, name, message)

    def finalize(self, entry: TaskEntry) -> Process:
        tid = entry.created.task_id
        if entry.finalized is None:
            market = self.world.market
            receipt = yield from self.transact(lambda: market.finalize(self.account, tid), task=tid)
            if not receipt.ok and entry.finalized is None:
                self.record(Kind.FAILED, task=tid, detail=receipt.revert_reason)
                yield self.world.watcher.wait_for(
                    MarketEvent,
                    lambda e: isinstance(e, TaskFinalized) and e.task_id == tid,
                    task=tid,
                )
        yield self.world.notice(self.name)

    def claim_access(self, entry: TaskEntry) -> Process:
        """Record on chain that it takes the paid models (``AccessClaimed``); contributors of
        a task with encrypted models answer with their keys."""
        tid = entry.created.task_id
        market = self.world.market
        receipt = yield from self.transact(lambda: market.claim_access(self.account, tid), task=tid)
        if not receipt.ok:
            self.record(Kind.FAILED, task=tid, detail=receipt.revert_reason)

    def access_model(self, entry: TaskEntry, *, paid: bool = True) -> Process:
        """Fetch the paid models (or, ``paid=False``, every submitted one: models are public
        on chain before payment unless submissions are sealed), fuse them on the
        verification data, test the result; the ``AccessOutcome``."""
        tid = TaskId(entry.created.task_id)
        if paid:
            cids = self.world.market.accepted_cids(tid, self.account.address)
        else:
            cids = [s.cid for s in self.world.market.submissions(tid)]
        fetched: list[bytes | None] = []
        for cid in cids:
            fetched.append((yield from self.world.download(self.name, cid)))
        if entry.template.encrypted_models:  # the keys it holds (after payment: on their way)
            wait = KEY_WAIT_S if paid else 0
            fetched = yield from self.open_models(
                entry, cids, fetched, self.world.timestamp() + wait
            )
        blobs = [b for b in fetched if b is not None]
        learning = self.world.learning
        outcome = learning.initiator_model(blobs, self.world.integer_seed("access", tid))
        yield from self.compute(outcome.reference_seconds, tid, "fusing the paid models")
        self.record(
            Kind.ACCESS_MODEL,
            task=tid,
            value=outcome.accuracy,
            detail=f"{outcome.models_used} of {len(cids)} "
            + ("paid models fused" if paid else "submitted models fused without paying"),
        )
        return outcome

    def record_taken(self, entry: TaskEntry) -> None:
        """One ``model_taken`` row per submission of ``entry`` that this initiator fetched
        without paying for it: ``agent`` is the contributor who lost its work, ``target``
        this initiator (an attack's victims; the oracle's ``true_contribution`` rows give
        what honest settlement would have paid each)."""
        tid = TaskId(entry.created.task_id)
        market = self.world.market
        paid = 0
        if entry.finalized is not None and entry.finalized.accepted:
            paid = market.get_task(tid).accepted_mask
        for s in market.submissions(tid):
            if (paid >> s.index) & 1:
                continue
            self.world.record(
                Kind.MODEL_TAKEN,
                self.world.name_of(s.contributor) or s.contributor,
                task=tid,
                target=self.name,
                cid=s.cid,
                detail=f"submission {s.index} used unpaid by {self.name}",
            )
