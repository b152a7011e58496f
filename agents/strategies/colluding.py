"""The colluding verifier: a coalition member that favours agreed contributors."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any

from sim.config import FRACTION, Interval, Items
from sim.verification import VerificationInput
from sim.watcher import TaskEntry

from .always_approve import MarginParams
from .base import Process, Report, VerifierStrategy, mafr

if TYPE_CHECKING:
    from agents.verifier import Verifier


@dataclass(frozen=True)
class ColludingParams(MarginParams):
    """``[behaviours.colluding]``: the coalition's terms (agreed off-chain, in the scenario)."""

    margin: Annotated[float, FRACTION] = 0.05
    """Colluders report an accuracy of at least the MAFR plus this (they always approve)."""
    targets: Annotated[tuple[int, ...], Items(Interval(0, None), what="contributor index")] = (0,)
    """Indices of the contributors the colluding verifiers favour."""
    boost: Annotated[float, FRACTION] = 0.5
    """Added to the favoured contributors' scores."""

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
