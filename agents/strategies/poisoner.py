"""The poisoner: trains on deliberately corrupted labels."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated

from sim.config import FRACTION, Checked
from sim.watcher import TaskEntry

from .base import ContributorStrategy, Process

if TYPE_CHECKING:
    from agents.contributor import Contributor


@dataclass(frozen=True)
class PoisonerParams(Checked):
    """``[behaviours.poisoner]``: how much a poisoner corrupts."""

    rate: Annotated[float, FRACTION] = 0.5
    """Fraction of a poisoner's training labels flipped."""


class Poisoner(ContributorStrategy[PoisonerParams]):
    """Trains on its shard with a fraction of the labels flipped and submits the result."""

    def produce(self, agent: Contributor, task: TaskEntry) -> Process:
        return (yield from self.train(agent, task, label_flip_rate=self.params.rate))

    def planned_training(self, agent: Contributor) -> float | None:
        return self.params.rate
