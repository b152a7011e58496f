"""The colluding verifier: a coalition member that favours agreed contributors."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sim.verification import VerificationInput
from sim.watcher import TaskEntry

from .always_approve import MarginParams
from .base import Process, Report, VerifierStrategy, fraction, mafr

if TYPE_CHECKING:
    from agents.verifier import Verifier


@dataclass(frozen=True)
class ColludingParams(MarginParams):
    """``[behaviours.colluding]``: the coalition's terms (agreed off-chain, in the scenario)."""

    margin: float = 0.05
    """Colluders report an accuracy of at least the MAFR plus this (they always approve)."""
    targets: tuple[int, ...] = (0,)
    """Indices of the contributors the colluding verifiers favour."""
    boost: float = 0.5
    """Added to the favoured contributors' scores."""

    def __post_init__(self) -> None:
        super().__post_init__()
        fraction("boost", self.boost)
        if any(i < 0 for i in self.targets):
            raise ValueError(f"targets: expected indices >= 0, got {self.targets}")

    def check_scenario(self, scenario: Any) -> None:
        """The favoured contributors exist at the start."""
        n = scenario.population.contributors
        for target in self.targets:
            if target >= n:
                raise ValueError(
                    f"targets: expected indices below population.contributors ({n}), got {target}"
                )


class Colluding(VerifierStrategy[ColludingParams]):
    """Computes honestly, then inflates the coalition's favoured contributors' scores and
    approves."""

    def evaluate(self, agent: Verifier, task: TaskEntry, inputs: VerificationInput) -> Process:
        result = yield from self.verify_honestly(agent, task, inputs)
        terms = self.params
        favoured = {agent.contributor_address(i) for i in terms.targets}
        scores = tuple(
            min(1.0, s + terms.boost) if who in favoured else s
            for s, who in zip(result.scores, inputs.contributors, strict=True)
        )
        accuracy = max(result.accuracy, min(1.0, mafr(task) + terms.margin))
        return Report(accuracy, scores, result)
