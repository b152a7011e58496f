"""The plagiarist: resubmits another contributor's model as its own."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any

from contracts.taskmarket import ModelSubmitted
from sim.config import NON_NEGATIVE, Checked
from sim.recorder import Kind
from sim.watcher import TaskEntry

from .base import ContributorStrategy, Process

if TYPE_CHECKING:
    from agents.contributor import Contributor


@dataclass(frozen=True)
class PlagiaristParams(Checked):
    """``[behaviours.plagiarist]``: how a plagiarist disguises its copy."""

    noise: Annotated[float, NON_NEGATIVE] = 0.0
    """0: a byte-identical copy; > 0: the copy's weights get this relative Gaussian noise."""

    def not_applicable(self, scenario: Any) -> str | None:
        """Why a plagiarist has no one to copy in ``scenario`` (None if it may)."""
        if scenario.population.contributors < 2 and not scenario.churn.contributors.active:
            return "no other contributor's submission to copy (one contributor, no arrivals)"
        return None


class Plagiarist(ContributorStrategy[PlagiaristParams]):
    """Waits for another contributor's submission and resubmits it (byte-identical, or with
    small noise so the CID differs)."""

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
        noise = self.params.noise
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
