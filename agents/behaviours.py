"""Behaviours: the strategy objects a role's process consults at each decision.

The process code (``contributor.py``, ``verifier.py``) owns the protocol steps; a behaviour
decides what to produce or report. Honest behaviours do the real work through the world's
learning service; each dishonest kind overrides one decision:

Contributors — ``free_rider``: submits untrained (or random) weights without training;
``plagiarist``: waits for another contributor's submission and resubmits it (byte-identical,
or with small noise so the CID differs); ``poisoner``: trains on labels flipped at
``behaviours.poison_rate``; ``dropout``: leaves the market part-way through training.

Verifiers — ``lazy``: reports plausible numbers without downloading or computing;
``always_approve`` / ``always_reject``: report an accuracy just above / below the MAFR without
computing; ``colluding``: computes honestly, then inflates the scores of the coalition's
favoured contributors and approves (the coalition's terms are agreed off-chain, in the
scenario); ``copycat``: waits for another member's visible report and copies it (under
commit–reveal none is visible in time, and it falls back to guessing or silence);
``offline``: registers and stakes, then never reports.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import simpy

from contracts.taskmarket import MarketEvent, ModelSubmitted, ReportRevealed
from contracts.units import BPS, PPM
from sim.recorder import Kind
from sim.verification import VerificationInput, VerificationResult, verify
from sim.watcher import TaskEntry

if TYPE_CHECKING:
    from agents.contributor import Contributor
    from agents.verifier import Verifier

Process = Generator[simpy.Event, Any, Any]


@dataclass(frozen=True)
class Report:
    """What a verifier puts on chain, beside what an honest computation gives (truth)."""

    accuracy: float
    scores: tuple[float, ...]
    truth: VerificationResult | None


# ====================================================================== contributors


class ContributorBehaviour:
    """Honest: train the recommended model on the private shard and submit it."""

    name: ClassVar[str] = "honest"

    def produce(self, agent: Contributor, task: TaskEntry) -> Process:
        """Return the model file to submit (or None), spending the compute it needs."""
        return (yield from self.train(agent, task, label_flip_rate=0.0))

    def train(self, agent: Contributor, task: TaskEntry, label_flip_rate: float) -> Process:
        learning = agent.world.learning
        trained = learning.train(agent.index, agent.training_seed, label_flip_rate=label_flip_rate)
        tid = task.created.task_id
        yield from agent.compute(learning.train_seconds(trained.samples_processed), tid, "training")
        agent.record(
            Kind.MODEL_TRAINED,
            task=tid,
            value=trained.validation_accuracy,
            bytes=len(trained.weights),
            detail=f"{trained.samples_processed} samples processed",
        )
        return trained.weights


class FreeRider(ContributorBehaviour):
    name = "free_rider"

    def produce(self, agent: Contributor, task: TaskEntry) -> Process:
        learning = agent.world.learning
        weights = learning.train(agent.index, agent.training_seed, epochs=0).weights
        kind = agent.world.scenario.behaviours.free_rider_weights
        if kind == "random":
            weights = learning.perturb(weights, 1.0, agent.stream)
        agent.record(
            Kind.MODEL_TRAINED,
            task=task.created.task_id,
            bytes=len(weights),
            detail=f"{kind} weights",
        )
        yield agent.env.timeout(0)
        return weights


class Poisoner(ContributorBehaviour):
    name = "poisoner"

    def produce(self, agent: Contributor, task: TaskEntry) -> Process:
        rate = agent.world.scenario.behaviours.poison_rate
        return (yield from self.train(agent, task, label_flip_rate=rate))


class Plagiarist(ContributorBehaviour):
    name = "plagiarist"

    def produce(self, agent: Contributor, task: TaskEntry) -> Process:
        world = agent.world
        tid = task.created.task_id
        me = agent.account.address
        seen = world.watcher.wait_for(
            ModelSubmitted,
            lambda e: isinstance(e, ModelSubmitted) and e.task_id == tid and e.contributor != me,
        )
        got = yield seen | world.until(task.params.submission_deadline)
        if seen not in got:
            agent.record(Kind.MISSED, task=tid, detail="no submission to copy")
            return None
        original: ModelSubmitted = got[seen]
        yield world.notice(agent.name)
        data = yield from world.download(agent.name, original.cid)
        if data is None:
            return None
        noise = world.scenario.behaviours.plagiarist_noise
        if noise > 0:
            data = world.learning.perturb(data, noise, agent.stream)
        agent.record(
            Kind.MODEL_TRAINED,
            task=tid,
            cid=original.cid,
            bytes=len(data),
            target=world.name_of(original.contributor),
            detail="copied" + (f" with noise {noise}" if noise else " byte for byte"),
        )
        return data


class Dropout(ContributorBehaviour):
    name = "dropout"

    def produce(self, agent: Contributor, task: TaskEntry) -> Process:
        learning = agent.world.learning
        trained = learning.train(agent.index, agent.training_seed)
        tid = task.created.task_id
        part = agent.world.scenario.behaviours.dropout_at
        yield from agent.compute(
            learning.train_seconds(trained.samples_processed) * part, tid, "training (dropped)"
        )
        agent.leave_for_good()
        return None


CONTRIBUTOR_BEHAVIOURS: dict[str, type[ContributorBehaviour]] = {
    b.name: b for b in (ContributorBehaviour, FreeRider, Poisoner, Plagiarist, Dropout)
}


# ====================================================================== verifiers


class VerifierBehaviour:
    """Honest: fetch every model, fuse, evaluate on the verification data, report the truth."""

    name: ClassVar[str] = "honest"

    def evaluate(self, agent: Verifier, task: TaskEntry, inputs: VerificationInput) -> Process:
        """Return the Report to put on chain (or None to stay silent)."""
        result = yield from self.honest(agent, task, inputs)
        return Report(result.accuracy, tuple(result.scores), result)

    def honest(self, agent: Verifier, task: TaskEntry, inputs: VerificationInput) -> Process:
        """The real work: download, inspect, fuse and score (spending its compute time)."""
        blobs = yield from agent.fetch_models(task, inputs.cids)
        result = verify(agent.world.learning, inputs, blobs)
        yield from agent.compute(result.reference_seconds, task.created.task_id, "verification")
        agent.record_evaluation(task, result)
        return result


def _mafr(task: TaskEntry) -> float:
    return task.params.mafr_bps / BPS


def guess(agent: Verifier, task: TaskEntry, n: int) -> tuple[float, tuple[float, ...]]:
    """Plausible numbers made up without looking: an accuracy and n contribution scores."""
    world = agent.world
    accuracy = min(1.0, world.scenario.behaviours.lazy_accuracy.draw(agent.stream))
    method = world.scenario.contribution.method
    if method == "individual":
        base = accuracy
    else:
        base = max(0.0, accuracy - 0.1) / max(n, 1) / (2 if method == "leave_one_out" else 1)
    scores = tuple(float(base * agent.stream.uniform(0.5, 1.5)) for _ in range(n))
    return accuracy, scores


class LazyVerifier(VerifierBehaviour):
    name = "lazy"

    def evaluate(self, agent: Verifier, task: TaskEntry, inputs: VerificationInput) -> Process:
        yield agent.env.timeout(0)
        accuracy, scores = guess(agent, task, len(inputs.cids))
        return Report(accuracy, scores, agent.truth(inputs))


class AlwaysApprove(VerifierBehaviour):
    name = "always_approve"

    def evaluate(self, agent: Verifier, task: TaskEntry, inputs: VerificationInput) -> Process:
        yield agent.env.timeout(0)
        margin = agent.world.scenario.behaviours.approve_margin
        n = len(inputs.cids)
        accuracy = min(1.0, _mafr(task) + margin)
        return Report(accuracy, (1.0 / max(n, 1),) * n, agent.truth(inputs))


class AlwaysReject(VerifierBehaviour):
    name = "always_reject"

    def evaluate(self, agent: Verifier, task: TaskEntry, inputs: VerificationInput) -> Process:
        yield agent.env.timeout(0)
        margin = agent.world.scenario.behaviours.approve_margin
        accuracy = max(0.0, _mafr(task) - margin)
        return Report(accuracy, (0.0,) * len(inputs.cids), agent.truth(inputs))


class Colluding(VerifierBehaviour):
    name = "colluding"

    def evaluate(self, agent: Verifier, task: TaskEntry, inputs: VerificationInput) -> Process:
        result = yield from self.honest(agent, task, inputs)
        terms = agent.world.scenario.behaviours
        favoured = {agent.contributor_address(i) for i in terms.collusion_targets}
        scores = tuple(
            min(1.0, s + terms.collusion_boost) if who in favoured else s
            for s, who in zip(result.scores, inputs.contributors, strict=True)
        )
        accuracy = max(result.accuracy, min(1.0, _mafr(task) + terms.approve_margin))
        return Report(accuracy, scores, result)


class Copycat(VerifierBehaviour):
    name = "copycat"

    def evaluate(self, agent: Verifier, task: TaskEntry, inputs: VerificationInput) -> Process:
        world = agent.world
        tid = task.created.task_id
        me = agent.account.address
        visible = world.watcher.wait_for(
            MarketEvent,
            lambda e: isinstance(e, ReportRevealed) and e.task_id == tid and e.verifier != me,
        )
        latest = agent.report_deadline(task) - 2 * world.scenario.chain.block_interval_s
        got = yield visible | world.until(latest)
        truth = agent.truth(inputs)
        if visible in got:
            seen: ReportRevealed = got[visible]
            yield world.notice(agent.name)
            agent.record(Kind.COPIED, task=tid, target=world.name_of(seen.verifier))
            scores = tuple(s / PPM for s in seen.scores_ppm)
            return Report(seen.accuracy_ppm / PPM, scores, truth)
        if world.scenario.behaviours.copycat_fallback == "absent":
            return None
        accuracy, scores = guess(agent, task, len(inputs.cids))
        return Report(accuracy, scores, truth)


class OfflineVerifier(VerifierBehaviour):
    name = "offline"

    def evaluate(self, agent: Verifier, task: TaskEntry, inputs: VerificationInput) -> Process:
        yield agent.env.timeout(0)
        return None


VERIFIER_BEHAVIOURS: dict[str, type[VerifierBehaviour]] = {
    b.name: b
    for b in (
        VerifierBehaviour,
        LazyVerifier,
        AlwaysApprove,
        AlwaysReject,
        Colluding,
        Copycat,
        OfflineVerifier,
    )
}
