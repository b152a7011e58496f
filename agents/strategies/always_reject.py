"""The always-rejecting verifier: reports a failure without computing."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from sim.verification import VerificationInput
from sim.watcher import TaskEntry

from .always_approve import MarginParams
from .base import Process, Report, VerifierStrategy, mafr

if TYPE_CHECKING:
    from agents.verifier import Verifier


@dataclass(frozen=True)
class AlwaysRejectParams(MarginParams):
    """``[behaviours.always_reject]``: how far below the bar it reports."""


class AlwaysReject(VerifierStrategy[AlwaysRejectParams]):
    """Reports an accuracy just below the MAFR and zero scores, without computing."""

    def evaluate(self, agent: Verifier, task: TaskEntry, inputs: VerificationInput) -> Process:
        yield agent.env.timeout(0)
        accuracy = max(0.0, mafr(task) - self.params.margin)
        return Report(accuracy, (0.0,) * len(inputs.cids), agent.truth(inputs))
