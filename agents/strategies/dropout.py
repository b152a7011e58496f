"""The dropout: leaves the market part-way through training."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated

from sim.config import FRACTION, Checked
from sim.watcher import TaskEntry

from .base import ContributorStrategy, Process

if TYPE_CHECKING:
    from agents.contributor import Contributor


@dataclass(frozen=True)
class DropoutParams(Checked):
    """``[behaviours.dropout]``: when a dropout leaves."""

    at: Annotated[float, FRACTION] = 0.5
    """A dropout leaves when this fraction of its training is done (it submits nothing)."""


class Dropout(ContributorStrategy[DropoutParams]):
    """Starts training, then leaves the market for good before submitting anything."""

    def produce(self, agent: Contributor, task: TaskEntry) -> Process:
        learning = agent.world.learning
        trained = learning.train(agent.index, agent.training_seed)
        tid = task.created.task_id
        part = self.params.at
        yield from agent.compute(
            learning.train_seconds(trained.samples_processed) * part, tid, "training (dropped)"
        )
        agent.leave_for_good()
        return None

    def planned_training(self, agent: Contributor) -> float | None:
        return 0.0
