"""Behaviours: the strategy objects a role's process consults at each decision.

The process code (``contributor.py``, ``verifier.py``) owns the protocol steps; a behaviour
decides what to produce or report. Honest behaviours do the real work through the world's
learning service. Dishonest kinds subclass these and override one decision each.
"""

from __future__ import annotations

from collections.abc import Generator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import simpy

from sim.inspection import VerificationInput, VerificationResult, honest_verification
from sim.recorder import Kind
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


class ContributorBehaviour:
    """Honest: train the recommended model on the private shard and submit it."""

    name = "honest"

    def joins(self, agent: Contributor, task: TaskEntry) -> bool:
        return True

    def produce(self, agent: Contributor, task: TaskEntry) -> Process:
        """Return the model file to submit (or None), spending the compute it needs."""
        learning = agent.world.learning
        trained = learning.train(agent.index, seed=agent.training_seed)
        yield agent.compute(learning.train_seconds(trained.samples_processed))
        agent.record(
            Kind.MODEL_TRAINED,
            task=task.created.task_id,
            value=trained.validation_accuracy,
            bytes=len(trained.weights),
            detail=f"{trained.samples_processed} samples processed",
        )
        return trained.weights


class VerifierBehaviour:
    """Honest: fetch every model, fuse, evaluate on the verification data, report the truth."""

    name = "honest"

    def registers(self, agent: Verifier, task: TaskEntry) -> bool:
        return True

    def evaluate(self, agent: Verifier, task: TaskEntry, inputs: VerificationInput) -> Process:
        """Return the Report to put on chain (or None to stay silent)."""
        blobs = yield from agent.fetch_models(task, inputs.cids)
        result = honest_verification(
            agent.world.learning, inputs.with_blobs(blobs), agent.verification_seed
        )
        yield agent.compute(result.reference_seconds)
        agent.record_evaluation(task, result)
        return Report(result.accuracy, tuple(result.scores), result)


def scores_or_zero(scores: Sequence[float] | None, n: int) -> tuple[float, ...]:
    return tuple(scores) if scores is not None else (0.0,) * n
