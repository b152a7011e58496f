"""The honest contributor: real training on its private shard."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sim.strategies import NoParams
from sim.watcher import TaskEntry

from .base import ContributorStrategy, Process

if TYPE_CHECKING:
    from agents.contributor import Contributor


class HonestContributor(ContributorStrategy[NoParams]):
    """Trains the recommended model on its private shard and submits it."""

    def produce(self, agent: Contributor, task: TaskEntry) -> Process:
        return (yield from self.train(agent, task, label_flip_rate=0.0))

    def planned_training(self, agent: Contributor) -> float | None:
        return 0.0
