"""The free rider: submits a model without training."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from sim.recorder import Kind
from sim.watcher import TaskEntry

from .base import ContributorStrategy, Process

if TYPE_CHECKING:
    from agents.contributor import Contributor


@dataclass(frozen=True)
class FreeRiderParams:
    """``[behaviours.free_rider]``: what a free rider submits."""

    weights: Literal["untrained", "random"] = "untrained"
    """The seeded initial weights, or those plus unit Gaussian noise."""


class FreeRider(ContributorStrategy[FreeRiderParams]):
    """Submits untrained (or random) weights without training."""

    def produce(self, agent: Contributor, task: TaskEntry) -> Process:
        learning = agent.world.learning
        weights = learning.train(agent.index, agent.training_seed, epochs=0).weights
        kind = self.params.weights
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
