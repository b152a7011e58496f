"""The lazy verifier: reports plausible numbers without downloading or computing."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sim.distributions import Dist
from sim.verification import VerificationInput
from sim.watcher import TaskEntry

from .base import Process, Report, VerifierStrategy

if TYPE_CHECKING:
    from agents.verifier import Verifier


def default_accuracy() -> Dist:
    return Dist(kind="uniform", low=0.85, high=0.95)


def check_accuracy(name: str, accuracy: Dist) -> None:
    """Raise ValueError naming ``name`` if ``accuracy`` can reach above 1."""
    if accuracy.upper > 1.0:
        raise ValueError(
            f"{name}: expected accuracies in [0, 1]; this distribution reaches "
            f"{accuracy.upper} (set maximum = 1.0 to clip it)"
        )


def guess(
    agent: Verifier, task: TaskEntry, n: int, accuracy: Dist
) -> tuple[float, tuple[float, ...]]:
    """Plausible numbers made up without looking: an accuracy and n contribution scores."""
    world = agent.world
    drawn = min(1.0, accuracy.draw(agent.stream))
    method = world.scenario.contribution.method
    if method == "individual":
        base = drawn
    else:
        base = max(0.0, drawn - 0.1) / max(n, 1) / (2 if method == "leave_one_out" else 1)
    scores = tuple(float(base * agent.stream.uniform(0.5, 1.5)) for _ in range(n))
    return drawn, scores


@dataclass(frozen=True)
class LazyParams:
    """``[behaviours.lazy]``: what a lazy verifier makes up."""

    accuracy: Dist = field(default_factory=default_accuracy)
    """Fused accuracy a lazy verifier reports without computing."""

    def __post_init__(self) -> None:
        check_accuracy("accuracy", self.accuracy)


class LazyVerifier(VerifierStrategy[LazyParams]):
    """Reports a plausible accuracy and scores without downloading or computing anything."""

    def evaluate(self, agent: Verifier, task: TaskEntry, inputs: VerificationInput) -> Process:
        yield agent.env.timeout(0)
        accuracy, scores = guess(agent, task, len(inputs.cids), self.params.accuracy)
        return Report(accuracy, scores, agent.truth(inputs))
