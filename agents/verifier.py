"""The verification contributor: stakes, may be drawn, evaluates and reports, gets paid.

For each task it learns of (and its behaviour registers for): stake before the submission
deadline; once the committee is drawn, either withdraw the returned stake or, as a member,
wait for the initiator's verification data, let the behaviour evaluate the submissions,
and report (commit, then reveal after the commit deadline, when the task uses
commit–reveal). After finalization, withdraw pay and stake.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from agents.strategies.base import Report
from contracts.chain import Account
from contracts.taskmarket import (
    Aggregation,
    CommitteeDrawn,
    MarketEvent,
    TaskCancelled,
    TaskFinalized,
    commitment,
    new_salt,
)
from contracts.units import Address, Cid, to_ppm
from sim.recorder import Kind
from sim.types import Role
from sim.verification import VerificationInput, VerificationResult, expect, verify
from sim.watcher import TaskEntry
from sim.world import Message

from .base import KEY_WAIT_S, Participant, Process
from .choice import verifier_estimate

if TYPE_CHECKING:
    from agents.strategies.base import VerifierStrategy


Evaluate = Callable[[TaskEntry, VerificationInput], Process]
"""What a member reports: given the task and its verification input, a process returning the
``Report`` (or None to stay silent)."""

GAS_RESERVE_WEI = 10**16
"""Ether a verifier keeps aside for the gas of reporting and withdrawing."""


@dataclass
class TaskMemory:
    """How far this verifier got with one task (kept across churn, so it can resume)."""

    selected: bool = False
    report: Report | None = None
    salt: bytes | None = None
    """Set once the commitment is on chain."""
    reported: bool = False


class VerifierDuties(Participant):
    """The verification protocol of one account holder: stake, serve if drawn, report.

    ``Verifier`` plays it for its behaviour; a contributor plays it too when its strategy
    makes it verify the task it submitted to (the ``self_verifier`` Sybil). Subclasses set
    ``verification_seed`` and may override ``reveal_at`` / ``reveals`` (when and whether a
    committed report is revealed).
    """

    verification_seed: int

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.memory: dict[int, TaskMemory] = {}

    def serve(self, task: TaskEntry, evaluate: Evaluate, account: Account | None = None) -> Process:
        """Register (unless resuming), serve if drawn with ``evaluate``'s report, settle; from
        ``account`` (default: the agent's own; a Sybil serves from a further account)."""
        tid = task.created.task_id
        sender = self.account if account is None else account
        state = self.memory.get(tid)
        if state is None:
            registered = yield from self.register(task, account)
            if not registered:
                return None
            state = self.memory[tid] = TaskMemory()
        members = yield from self.await_committee(task)
        if members is None or sender.address not in members:
            yield from self.settle(task)
            if account is not None:
                yield from self.withdraw_if_owed(tid, account)
            return None
        if not state.selected:
            state.selected = True
            self.record(Kind.SELECTED, task=tid)
        if state.report is None:
            inputs = yield from self.await_inputs(task)
            if inputs is not None:
                state.report = yield from evaluate(task, inputs)
        if state.report is not None:
            yield from self.submit_report(task, state, account)
        yield from self.settle(task)
        if account is not None:
            yield from self.withdraw_if_owed(tid, account)
        return None

    def reveal_at(self, task: TaskEntry) -> int:
        """The chain time at which a committed report is revealed: once commits close."""
        return task.deadlines()[0]

    def reveals(self, task: TaskEntry, report: Report) -> bool:
        """Whether to reveal the committed ``report`` (at ``reveal_at``); True: always."""
        return True

    # ---------------------------------------------------------------- steps

    def register(self, task: TaskEntry, account: Account | None = None) -> Process:
        """Stake for ``task`` from ``account`` (default: the agent's own); whether it got in."""
        tid = task.created.task_id
        stake = task.params.verifier_stake
        sender = self.account if account is None else account
        if self.world.balance_of(sender.address) < stake + GAS_RESERVE_WEI:
            self.record(Kind.MISSED, task=tid, detail="cannot afford the stake")
            return False
        if self.world.timestamp() >= task.params.submission_deadline:
            self.record(Kind.MISSED, task=tid, detail="registration closed")
            return False
        market = self.world.market
        receipt = yield from self.transact(
            lambda: market.register_verifier(sender, tid, stake), task=tid
        )
        if not receipt.ok:
            self.record(Kind.FAILED, task=tid, detail=receipt.revert_reason)
            return False
        detail = None if account is None else f"Sybil {sender.address}"
        self.record(Kind.REGISTERED, task=tid, wei=stake, detail=detail)
        return True

    def await_committee(self, task: TaskEntry) -> Process:
        """The committee's addresses, or None if the task settles without one."""
        tid = task.created.task_id
        if task.committee is None and task.open:
            event = yield self.world.watcher.wait_for(
                MarketEvent,
                lambda e: (
                    isinstance(e, (CommitteeDrawn, TaskFinalized, TaskCancelled))
                    and e.task_id == tid
                ),
                task=tid,
            )
            yield self.world.notice(self.name)
            return event.members if isinstance(event, CommitteeDrawn) else None
        return task.committee

    def await_inputs(self, task: TaskEntry) -> Process:
        """The verification data from the initiator and the submitted CIDs, or None in time."""
        tid = task.created.task_id
        deadline = self.report_deadline(task)
        box = self.world.mailbox(self.name)
        get = box.get(lambda m: m.kind == "verification_data" and m.task == tid)
        try:
            got = yield get | self.world.until(deadline)
        finally:
            if not get.triggered:
                get.cancel()  # leaving or giving up must not swallow a later message
        if get not in got:
            self.record(Kind.MISSED, task=tid, detail="no verification data before the deadline")
            return None
        message: Message = got[get]
        self.record(Kind.DATA_RECEIVED, task=tid, bytes=message.size)
        subs = self.world.market.submissions(tid)
        seed = task.evaluation_seed(self.verification_seed)
        inputs = VerificationInput.of(tid, subs, message.payload, seed)
        if self.world.learning.remote:  # a cluster starts the evaluation while files download
            expect(self.world.learning, inputs, self.world.stored_files(inputs.cids))
        return inputs

    def report_deadline(self, task: TaskEntry) -> int:
        """The chain time by which this member's first report transaction must land."""
        return task.deadlines()[0]

    def submit_report(
        self, task: TaskEntry, state: TaskMemory, account: Account | None = None
    ) -> Process:
        """Report (or commit, then reveal after the commit deadline) what ``state`` holds,
        from ``account`` (default: the agent's own; a Sybil reports from its others)."""
        tid = task.created.task_id
        report = state.report
        if report is None or state.reported:
            return None
        sender = self.account if account is None else account
        acc = to_ppm(report.accuracy)
        scores = [to_ppm(s, signed=True) for s in report.scores]
        market = self.world.market
        claim = task.params.aggregation == Aggregation.CLAIM  # its gas limit fits 1,000 scores
        if task.params.commit_reveal:
            if state.salt is None:
                salt = new_salt(self.stream)
                digest = commitment(tid, sender.address, acc, scores, salt)
                receipt = yield from self.transact(
                    lambda: market.commit(sender, tid, digest), task=tid
                )
                if not receipt.ok:
                    self.record(Kind.FAILED, task=tid, detail=receipt.revert_reason)
                    return None
                state.salt = salt
                self.record(Kind.COMMITTED, task=tid, value=report.accuracy)
            yield self.world.until(self.reveal_at(task))
            if not self.reveals(task, report):
                self.record(
                    Kind.MISSED,
                    task=tid,
                    value=report.accuracy,
                    detail="withheld the committed report (it would disagree)",
                )
                return None
            salt = state.salt
            send = lambda: market.reveal(sender, tid, acc, scores, salt, claim)  # noqa: E731
        else:
            send = lambda: market.report(sender, tid, acc, scores, claim)  # noqa: E731
        receipt = yield from self.transact(send, task=tid)
        if not receipt.ok:
            self.record(Kind.FAILED, task=tid, detail=receipt.revert_reason)
            return None
        state.reported = True
        self._record_report(task, report)
        return None

    def _record_report(self, task: TaskEntry, report: Report) -> None:
        tid = task.created.task_id
        truth = report.truth
        self.record(
            Kind.REPORTED,
            task=tid,
            value=report.accuracy,
            truth=truth.accuracy if truth else None,
        )
        names = self.world.name_of
        contributors = truth.contributors if truth else ()
        for i, score in enumerate(report.scores):
            target = names(contributors[i]) if i < len(contributors) else None
            self.record(
                Kind.SCORE,
                task=tid,
                target=target,
                value=score,
                truth=truth.scores[i] if truth else None,
                detail=f"submission {i}",
            )

    # ---------------------------------------------------------------- helpers for strategies

    def fetch_models(self, task: TaskEntry, cids: tuple[Cid, ...]) -> Process:
        """Download each submitted model (None where the fetch failed, or, for a task with
        encrypted models, where no key came before the report deadline)."""
        blobs: list[bytes | None] = []
        for cid in cids:
            data = yield from self.world.download(self.name, cid)
            if data is not None:
                self.record(Kind.MODEL_FETCHED, task=task.created.task_id, cid=cid, bytes=len(data))
            blobs.append(data)
        if task.template.encrypted_models:
            wait = min(self.report_deadline(task), self.world.timestamp() + KEY_WAIT_S)
            opened = yield from self.open_models(task, cids, blobs, wait)
            return opened
        return blobs

    def truth(self, inputs: VerificationInput) -> VerificationResult:
        """What this verifier would have found had it done the work (no simulated time)."""
        return verify(self.world.learning, inputs, self.world.stored_files(inputs.cids))

    def contributor_address(self, index: int) -> Address | None:
        """The address of contributor ``index`` (the coalition's favoured contributors)."""
        return self.world.address_of(f"contributor-{index}")

    def record_evaluation(self, task: TaskEntry, result: VerificationResult) -> None:
        tid = task.created.task_id
        for index, reason in sorted(result.rejected.items()):
            self.record(Kind.MODEL_REJECTED, task=tid, cid=result.cids[index], detail=reason)
        for index, original in sorted(result.duplicates.items()):
            self.record(
                Kind.DUPLICATE_DETECTED,
                task=tid,
                cid=result.cids[index],
                target=self.world.name_of(result.contributors[index]),
                detail=f"submission {index} duplicates submission {original}",
            )
        self.record(Kind.EVALUATED, task=tid, value=result.accuracy)


class Verifier(VerifierDuties):
    role = Role.VERIFIER
    behaviour: VerifierStrategy[Any]

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._decided: dict[int, bool] = {}

    @functools.cached_property
    def verification_seed(self) -> int:  # type: ignore[override]
        """Derived on first use (a function of the run's seed and the path alone)."""
        return self.world.integer_seed("verify", self.index)

    def on_task(self, task: TaskEntry) -> None:
        tid = task.created.task_id
        if tid in self.memory:
            self.take_task(task, self.work)  # resume after churn
        elif self.world.timestamp() < task.params.submission_deadline and self.wants(task):
            self.take_task(task, self.work)

    def wants(self, task: TaskEntry) -> bool:
        """Whether this verifier registers for ``task`` (decided once per task)."""
        tid = task.created.task_id
        if tid not in self._decided:
            scenario = self.world.scenario
            if self.market_model.offered(self, tid) is False:
                self._decided[tid] = False  # sampled offers: never told of this task
            else:
                self._decided[tid] = scenario.population.task_choice == "all" or self.decide(
                    task, verifier_estimate(scenario, task.template, self.speed)
                )
        return self._decided[tid]

    # ---------------------------------------------------------------- protocol

    def work(self, task: TaskEntry) -> Process:
        """Stake, serve if drawn, settle; after a return from churn, resume where it stood.
        A strategy with a protocol of its own (``VerifierStrategy.work``) runs that instead."""
        yield self.world.notice(self.name)
        own = self.strategy_for(task.created.task_id).work(self, task)
        if own is not None:
            yield from own
            return None
        yield from self.serve(task, self._evaluate)
        return None

    def _evaluate(self, task: TaskEntry, inputs: VerificationInput) -> Process:
        strategy = self.strategy_for(task.created.task_id)
        report: Report | None = yield from strategy.evaluate(self, task, inputs)
        return report

    def reveal_at(self, task: TaskEntry) -> int:
        at: int = self.strategy_for(task.created.task_id).reveal_at(self, task)
        return at

    def reveals(self, task: TaskEntry, report: Report) -> bool:
        reveal: bool = self.strategy_for(task.created.task_id).reveals(self, task, report)
        return reveal
