"""The copycat verifier: copies another committee member's visible report."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from contracts.taskmarket import MarketEvent, ReportRevealed
from contracts.units import PPM
from sim.distributions import Dist
from sim.recorder import Kind
from sim.verification import VerificationInput
from sim.watcher import TaskEntry

from .base import Process, Report, VerifierStrategy
from .lazy import check_accuracy, default_accuracy, guess

if TYPE_CHECKING:
    from agents.verifier import Verifier


@dataclass(frozen=True)
class CopycatParams:
    """``[behaviours.copycat]``: what a copycat does when there is nothing to copy."""

    fallback: Literal["guess", "absent"] = "guess"
    """What a copycat does when no report is visible in time (e.g. under commit–reveal)."""
    accuracy: Dist = field(default_factory=default_accuracy)
    """Fused accuracy a guessing copycat reports."""

    def not_applicable(self, scenario: Any) -> str | None:
        """Why a copycat has nothing to copy in ``scenario`` (None if it may)."""
        if all(task.commit_reveal for task in scenario.tasks):
            return "no report is visible before the deadline: every task uses commit-reveal"
        return None

    def __post_init__(self) -> None:
        check_accuracy("accuracy", self.accuracy)


class Copycat(VerifierStrategy[CopycatParams]):
    """Waits for another member's visible report and copies it; under commit–reveal none is
    visible in time, and it falls back to guessing or silence."""

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
        if self.params.fallback == "absent":
            return None
        accuracy, scores = guess(agent, task, len(inputs.cids), self.params.accuracy)
        return Report(accuracy, scores, truth)
