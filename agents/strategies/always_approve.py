"""The always-approving verifier: reports a pass without computing."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated

from sim.config import FRACTION, Checked
from sim.verification import VerificationInput
from sim.watcher import TaskEntry

from .base import Process, Report, VerifierStrategy, mafr

if TYPE_CHECKING:
    from agents.verifier import Verifier


@dataclass(frozen=True)
class MarginParams(Checked):
    """How far from the MAFR a verifier that does not compute reports."""

    margin: Annotated[float, FRACTION] = 0.05
    """The reported accuracy is the MAFR plus (approve) or minus (reject) this."""


@dataclass(frozen=True)
class AlwaysApproveParams(MarginParams):
    """``[behaviours.always_approve]``: how far above the bar it reports."""


class AlwaysApprove(VerifierStrategy[AlwaysApproveParams]):
    """Reports an accuracy just above the MAFR and equal scores, without computing."""

    def evaluate(self, agent: Verifier, task: TaskEntry, inputs: VerificationInput) -> Process:
        yield agent.env.timeout(0)
        n = len(inputs.cids)
        accuracy = min(1.0, mafr(task) + self.params.margin)
        return Report(accuracy, (1.0 / max(n, 1),) * n, agent.truth(inputs))
