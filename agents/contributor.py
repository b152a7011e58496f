"""The computing contributor: trains on its private shard, publishes the model, gets paid.

For each task it learns of (and its behaviour joins): fetch the task spec, produce a model
(honest: real training on its shard), upload it to storage, submit the CID before the
submission deadline, then wait for the outcome and withdraw what the market credits it.
With claim settlement (``tasks[i].settlement = "claim"``) it first claims its own pay
(``claim_pay``) once the task is finalized and accepted.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from contracts.taskmarket import Aggregation, ModelSubmitted, typed_events
from sim.recorder import Kind
from sim.types import Role
from sim.watcher import TaskEntry

from .base import Participant, Process
from .choice import contributor_estimate

if TYPE_CHECKING:
    from agents.strategies.base import ContributorStrategy


class Contributor(Participant):
    role = Role.CONTRIBUTOR
    behaviour: ContributorStrategy[Any]

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.training_seed = self.world.integer_seed("train", self.index)
        self._decided: dict[int, bool] = {}
        self.submitted: set[int] = set()
        """Tasks this contributor's model is submitted to (kept across churn)."""
        self.indices: dict[int, int] = {}
        """Submission index of this contributor's model, per task (for claim_pay)."""

    def on_task(self, task: TaskEntry) -> None:
        open_ = self.world.timestamp() < task.params.submission_deadline
        if task.created.task_id in self.submitted or (open_ and self.wants(task)):
            self.take_task(task, self.work)

    def wants(self, task: TaskEntry) -> bool:
        """Whether this contributor joins ``task`` (decided once per task)."""
        tid = task.created.task_id
        if tid not in self._decided:
            joins = bool(self.stream.random() < task.template.participation)
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
        data = yield from self.behaviour.produce(self, task)
        if data is None or not self.online:
            return None
        submitted = yield from self.publish(task, data)
        if submitted:
            self.submitted.add(tid)
            yield from self.settle(task, notice_if_settled=True)
        return None

    def publish(self, task: TaskEntry, data: bytes) -> Process:
        """Upload and submit before the deadline; True when the submission is on chain."""
        tid = task.created.task_id
        deadline = task.params.submission_deadline
        if self.world.timestamp() >= deadline:
            self.record(Kind.MISSED, task=tid, detail="submission deadline passed before upload")
            return False
        cid = yield from self.world.upload(self.name, data, task=tid)
        if cid is None:
            return False
        self.record(Kind.MODEL_UPLOADED, task=tid, cid=cid, bytes=len(data))
        if self.world.timestamp() >= deadline or not self.online:
            self.record(Kind.MISSED, task=tid, cid=cid, detail="submission deadline passed")
            return False
        market = self.world.market
        receipt = yield from self.transact(
            lambda: market.submit_model(self.account, tid, cid), task=tid
        )
        if receipt.ok:
            for e in typed_events(receipt):
                if isinstance(e, ModelSubmitted):
                    self.indices[tid] = e.index
            self.record(Kind.MODEL_SUBMITTED, task=tid, cid=cid, bytes=len(data))
        else:
            self.record(Kind.FAILED, task=tid, cid=cid, detail=receipt.revert_reason)
        return bool(receipt.ok)

    def claim_owed(self, task: TaskEntry) -> Process:
        """Claim settlement: once the task is finalized and accepted, claim this model's pay
        (when its score sum is positive and nobody claimed it for us yet)."""
        tid = task.created.task_id
        index = self.indices.get(tid)
        fin = task.finalized
        if task.params.aggregation != Aggregation.CLAIM or index is None or fin is None:
            return None
        market = self.world.market
        if not fin.accepted or market.score_sum(tid, index) <= 0 or market.claimed(tid, index):
            return None
        if market.tally(tid).pool == 0:  # verifiers take the whole reward: nothing to claim
            return None
        receipt = yield from self.transact(
            lambda: market.claim_pay(self.account, tid, index), task=tid
        )
        if not receipt.ok:
            self.record(Kind.FAILED, task=tid, detail=receipt.revert_reason)
        return None
