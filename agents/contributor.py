"""The computing contributor: trains on its private shard, publishes the model, gets paid.

For each task it learns of (and its behaviour joins): fetch the task spec, produce a model
(honest: real training on its shard), upload it to storage, submit the CID before the
submission deadline, then wait for the outcome and withdraw what the market credits it. A
strategy may act once the model is on chain (``after_submit``; the ``self_verifier`` Sybil
registers as a verifier of the same task there).
With claim settlement (``tasks[i].settlement = "claim"``) it first claims its own pay
(``claim_pay``) once the task is finalized (accepted, or undrawn with
``undrawn_pays_contributors``).
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

from contracts.chain import Receipt
from contracts.taskmarket import (
    AccessClaimed,
    Aggregation,
    CommitteeDrawn,
    MarketEvent,
    ModelSubmitted,
    TaskCancelled,
    TaskFinalized,
    model_commitment,
    new_salt,
    typed_events,
)
from contracts.units import Address, Cid
from sim.recorder import Kind
from sim.sealing import new_key, seal
from sim.types import Role
from sim.watcher import TaskEntry
from sim.world import Message

from .base import MODEL_KEY, Process
from .choice import contributor_estimate
from .verifier import VerifierDuties

if TYPE_CHECKING:
    from agents.strategies.base import ContributorStrategy


class Contributor(VerifierDuties):
    """A computing contributor; it can also play the verification protocol (``serve``) on
    its own account when its strategy makes it verify a task it submitted to (a Sybil)."""

    role = Role.CONTRIBUTOR
    behaviour: ContributorStrategy[Any]

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._decided: dict[int, bool] = {}
        self.submitted: set[int] = set()
        """Tasks this contributor's model is submitted to (kept across churn)."""
        self.indices: dict[int, int] = {}
        """Submission index of this contributor's model, per task (for claim_pay)."""

    # Seeds are functions of the run's seed and their path alone, so deriving them on first
    # use changes none; most of a large population never trains or verifies.
    @functools.cached_property
    def training_seed(self) -> int:
        return self.world.integer_seed("train", self.index)

    @functools.cached_property
    def verification_seed(self) -> int:  # type: ignore[override]
        return self.world.integer_seed("verify", "contributor", self.index)

    def on_task(self, task: TaskEntry) -> None:
        open_ = self.world.timestamp() < task.params.submission_deadline
        if task.created.task_id in self.submitted:
            self.take_task(task, self.work)
        elif open_ and self.wants(task) and self.take_task(task, self.work):
            # the training this task will need is known now: the learning layer may start it
            # (a cluster) or batch it with others' (training.batched); no simulated effect
            rate = self.behaviour.planned_training(self)
            if rate is not None:
                self.world.learning.expect(self.index, self.training_seed, label_flip_rate=rate)

    def wants(self, task: TaskEntry) -> bool:
        """Whether this contributor joins ``task`` (decided once per task)."""
        tid = task.created.task_id
        if tid not in self._decided:
            offered = self.market_model.offered(self, tid)
            if offered is None:
                joins = bool(self.stream.random() < task.template.participation)
            else:
                joins = offered  # sampled offers: the task's stream drew this chance
            self._decided[tid] = joins and self._worth_it(task)
        return self._decided[tid]

    def _worth_it(self, task: TaskEntry) -> bool:
        """With ``task_choice = "expected_profit"``: does the estimate promise a profit?"""
        scenario = self.world.scenario
        if scenario.population.task_choice == "all":
            return True
        shard = self.world.learning.shard_of(self.index)
        estimate = contributor_estimate(scenario, task.template, self.speed, len(shard.train))
        return self.decide(task, estimate)

    def work(self, task: TaskEntry) -> Process:
        """Join ``task``; after a return from churn, resume where it stood."""
        tid = task.created.task_id
        yield self.world.notice(self.name)
        if tid in self.submitted:
            yield from self.settle(task, notice_if_settled=True)
            return None
        self.record(Kind.TASK_SEEN, task=tid)
        spec = yield from self.world.download(self.name, task.created.spec_cid)
        if spec is None:
            return None
        data = yield from self.strategy_for(tid).produce(self, task)
        if data is None or not self.online:
            return None
        submitted = yield from self.publish(task, data)
        if submitted:
            self.submitted.add(tid)
            yield from self.strategy_for(task.created.task_id).after_submit(self, task)
            yield from self.settle(task, notice_if_settled=True)
        return None

    def publish(self, task: TaskEntry, data: bytes) -> Process:
        """Upload and submit before the deadline; True when the submission is on chain.

        With ``encrypted_models`` the file is sealed first and its key released later
        (``release_key``); with ``sealed_window_s`` the CID is committed before the deadline
        and revealed after it."""
        tid = task.created.task_id
        deadline = task.params.submission_deadline
        if self.world.timestamp() >= deadline:
            self.record(Kind.MISSED, task=tid, detail="submission deadline passed before upload")
            return False
        key = None
        if task.template.encrypted_models:
            key = new_key(self.stream)
            data = seal(data, key, tid, self.stream)
        cid = yield from self.world.upload(self.name, data, task=tid)
        if cid is None:
            return False
        if key is not None:
            self.world.escrow_key(cid, tid, key)
        self.record(Kind.MODEL_UPLOADED, task=tid, cid=cid, bytes=len(data))
        if self.world.timestamp() >= deadline or not self.online:
            self.record(Kind.MISSED, task=tid, cid=cid, detail="submission deadline passed")
            return False
        if task.params.sealed_window_s > 0:
            submitted = yield from self.submit_sealed(task, cid)
        else:
            market = self.world.market
            receipt = yield from self.transact(
                lambda: market.submit_model(self.account, tid, cid), task=tid
            )
            if not receipt.ok:
                self.record(Kind.FAILED, task=tid, cid=cid, detail=receipt.revert_reason)
            self._note_index(tid, receipt)
            submitted = bool(receipt.ok)
        if submitted:
            self.record(Kind.MODEL_SUBMITTED, task=tid, cid=cid, bytes=len(data))
            if key is not None:
                self.spawn(self.release_key(task, cid, key))
        return submitted

    def submit_sealed(self, task: TaskEntry, cid: Cid) -> Process:
        """Commit the CID's hash before the deadline, reveal the CID once it passed."""
        tid = task.created.task_id
        market = self.world.market
        salt = new_salt(self.stream)
        digest = model_commitment(tid, self.account.address, cid, salt)
        receipt = yield from self.transact(
            lambda: market.commit_model(self.account, tid, digest), task=tid
        )
        if not receipt.ok:
            self.record(Kind.FAILED, task=tid, cid=cid, detail=receipt.revert_reason)
            return False
        yield self.world.until(task.params.submission_deadline)
        receipt = yield from self.transact(
            lambda: market.reveal_model(self.account, tid, cid, salt), task=tid
        )
        if not receipt.ok:
            self.record(Kind.FAILED, task=tid, cid=cid, detail=receipt.revert_reason)
        self._note_index(tid, receipt)
        return bool(receipt.ok)

    def _note_index(self, tid: int, receipt: Receipt) -> None:
        """Remember the submission index the market gave this model (claim_pay needs it)."""
        for e in typed_events(receipt):
            if isinstance(e, ModelSubmitted):
                self.indices[tid] = e.index

    def claim_owed(self, task: TaskEntry) -> Process:
        """Claim settlement: once the task is finalized, claim this model's pay when the
        market holds a claim pool for it (nobody claimed it for us yet): an accepted task's
        when the model's score sum is positive, an undrawn one's (``undrawn_pays_contributors``)
        for every model."""
        tid = task.created.task_id
        index = self.indices.get(tid)
        fin = task.finalized
        if task.params.aggregation != Aggregation.CLAIM or index is None or fin is None:
            return None
        market = self.world.market
        # no pool: rejected, undrawn without the switch, or the verifiers took the whole reward
        if market.tally(tid).pool == 0 or market.claimed(tid, index):
            return None
        if fin.accepted and market.score_sum(tid, index) <= 0:  # not among the paid models
            return None
        receipt = yield from self.transact(
            lambda: market.claim_pay(self.account, tid, index), task=tid
        )
        if not receipt.ok:
            self.record(Kind.FAILED, task=tid, detail=receipt.revert_reason)
        return None

    def release_key(self, task: TaskEntry, cid: Cid, key: bytes) -> Process:
        """Hand the sealed model's key to each committee member once drawn (whoever holds
        the member's account), and to the initiator once it claims access after payment."""
        tid = task.created.task_id
        watcher = self.world.watcher
        if task.committee is None and task.open:
            yield watcher.wait_for(MarketEvent, lambda e: _drawn_or_settled(e, tid), task=tid)
            yield self.world.notice(self.name)
        for member in task.committee or ():
            self._send_key(member, tid, cid, key)
        if not task.open:
            return None
        event = yield watcher.wait_for(MarketEvent, lambda e: _claimed_or_unpaid(e, tid), task=tid)
        if isinstance(event, AccessClaimed):
            yield self.world.notice(self.name)
            self._send_key(event.initiator, tid, cid, key)
        return None

    def _send_key(self, to: Address, tid: int, cid: Cid, key: bytes) -> None:
        name = self.world.name_of(to)
        if name is None or not self.online:
            return
        message = Message(MODEL_KEY, self.name, tid, (cid, key), len(key) + len(cid))
        self.world.send_message(self.name, name, message)


def _drawn_or_settled(e: MarketEvent, task_id: int) -> bool:
    return isinstance(e, (CommitteeDrawn, TaskFinalized, TaskCancelled)) and e.task_id == task_id


def _claimed_or_unpaid(e: MarketEvent, task_id: int) -> bool:
    if isinstance(e, AccessClaimed):
        return e.task_id == task_id
    if isinstance(e, TaskFinalized):
        return e.task_id == task_id and not e.accepted
    return isinstance(e, TaskCancelled) and e.task_id == task_id
