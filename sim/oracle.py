"""The oracle: ground truth the agents never see, recorded beside what they claimed.

When a task is finalized the oracle inspects its submissions exactly as an honest verifier
would (``sim.verification.verify``), with the seed an honest member would use (the
committee's shared seed, else a reference seed of its own), and also scores them on the
held-out test set. It records, at no simulated cost:

- ``ground_truth`` (one row per task): ``value`` = the honest fused accuracy on the
  verification data, ``truth`` = the fused accuracy on the held-out test set, ``ok`` = the
  outcome an all-honest committee would reach: the honest accuracy, put on chain in parts per
  million as a report would be, compared with the MAFR as the contract compares them (a float
  comparison would disagree with the contract at exact boundaries);
- ``true_contribution`` (one row per submission): ``value`` = the honest contribution score
  on the verification data (the task's own method), ``truth`` = the submission's Shapley
  value on the held-out test set whatever the task's method (one ruler for every scenario:
  exact up to ``contribution.shapley_exact_max`` models, sampled above; with
  ``contribution.truth = "method"``, the task's own method on the test set), ``wei`` = what the
  contract would have paid it had the committee reported the honest scores
  (``contracts.settlement``, the contract's own arithmetic).
"""

from __future__ import annotations

import dataclasses

from contracts.settlement import contributor_shares
from contracts.taskmarket import CommitteeDrawn, MarketEvent, TaskFinalized, TaskParams
from contracts.units import BPS, TaskId, meets_mafr, to_ppm
from sim.recorder import Kind
from sim.verification import VerificationInput, VerificationResult, expect, verify
from sim.world import World


class Oracle:
    """Records each finalized task's ground truth."""

    def __init__(self, world: World):
        self.world = world
        contribution = world.scenario.contribution
        self.ruler = (
            dataclasses.replace(contribution, method="shapley")
            if contribution.truth == "shapley"
            else contribution
        )
        """How true contributions are measured on the test set (``contribution.truth``):
        Shapley values, or the task's own method."""
        world.watcher.subscribe(MarketEvent, self._on_event)

    def _on_event(self, e: MarketEvent) -> None:
        if isinstance(e, TaskFinalized):
            self.record(e.task_id)
        elif isinstance(e, CommitteeDrawn) and self.world.learning.remote:
            # the submissions are final once drawn: a cluster can start the oracle's work
            self._expect(e.task_id)

    def _inputs(self, task_id: TaskId) -> VerificationInput:
        world = self.world
        entry = world.watcher.tasks[task_id]
        subs = world.market.submissions(task_id)
        seed = entry.evaluation_seed(world.integer_seed("oracle", task_id))
        return VerificationInput.of(task_id, subs, world.learning.verification_set(), seed)

    def _expect(self, task_id: TaskId) -> None:
        if task_id in self.world.watcher.tasks:
            inputs = self._inputs(task_id)
            files = self.world.stored_files(inputs.cids)
            expect(self.world.learning, inputs, files, with_test=True, test_method=self.ruler)

    def record(self, task_id: TaskId) -> None:
        world = self.world
        entry = world.watcher.tasks.get(task_id)
        if entry is None:
            return
        subs = world.market.submissions(task_id)
        inputs = self._inputs(task_id)
        files = world.stored_files(inputs.cids)
        result = verify(world.learning, inputs, files, with_test=True, test_method=self.ruler)
        accepted = bool(subs) and honest_outcome(result.accuracy, entry.params.mafr_bps)
        world.recorder.record(
            Kind.GROUND_TRUTH,
            None,
            task=task_id,
            value=result.accuracy,
            truth=result.test_accuracy,
            ok=accepted,
            detail=f"{len(result.accepted)} of {len(subs)} submissions fused",
        )
        test_scores = result.test_scores or (None,) * len(subs)
        honest_pay = _honest_pay(entry.params, entry.created.reward, result, accepted)
        for i, s in enumerate(subs):
            world.recorder.record(
                Kind.TRUE_CONTRIBUTION,
                world.directory.label(s.contributor),
                task=task_id,
                cid=s.cid,
                value=result.scores[i],
                truth=test_scores[i],
                wei=honest_pay[i],
                detail=_status(result, i) + _estimated(result, i),
            )


def honest_outcome(accuracy: float, mafr_bps: int) -> bool:
    """Whether honest reports of ``accuracy`` pass the MAFR, decided as the contract decides:
    on the reported parts per million."""
    return meets_mafr(to_ppm(accuracy), mafr_bps)


def _honest_pay(
    params: TaskParams, reward: int, result: VerificationResult, accepted: bool
) -> tuple[int, ...]:
    """Each submission's pay had every member reported the honest scores."""
    n = len(result.scores)
    if not n or not accepted:
        return (0,) * n
    cpool = reward - reward * params.verifier_share_bps // BPS
    scores = [to_ppm(s, signed=True) for s in result.scores]
    return tuple(int(w) for w in contributor_shares(cpool, scores))


def _estimated(result: VerificationResult, i: int) -> str:
    """A note on scores that are Monte Carlo estimates (value on the verification data,
    truth on the test set), with their standard errors."""
    notes = []
    if result.score_errors is not None:
        notes.append(f"value sampled, standard error {result.score_errors[i]:.4g}")
    if result.test_errors is not None:
        notes.append(f"truth sampled, standard error {result.test_errors[i]:.4g}")
    return "".join(f"; {n}" for n in notes)


def _status(result: VerificationResult, i: int) -> str:
    if i in result.rejected:
        return result.rejected[i]
    if i in result.duplicates:
        return f"copy of submission {result.duplicates[i]}"
    return "fused"
