"""The poisoner: trains on deliberately corrupted labels."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from sim.watcher import TaskEntry

from .base import ContributorStrategy, Process, fraction

if TYPE_CHECKING:
    from agents.contributor import Contributor


@dataclass(frozen=True)
class PoisonerParams:
    """``[behaviours.poisoner]``: how much a poisoner corrupts."""

    rate: float = 0.5
    """Fraction of a poisoner's training labels flipped."""

    def __post_init__(self) -> None:
        fraction("rate", self.rate)


class Poisoner(ContributorStrategy[PoisonerParams]):
    """Trains on its shard with a fraction of the labels flipped and submits the result."""

    def produce(self, agent: Contributor, task: TaskEntry) -> Process:
        return (yield from self.train(agent, task, label_flip_rate=self.params.rate))
