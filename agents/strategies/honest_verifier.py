"""The honest verifier: does the verification work and reports what it finds."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sim.strategies import NoParams
from sim.verification import VerificationInput
from sim.watcher import TaskEntry

from .base import Process, Report, VerifierStrategy

if TYPE_CHECKING:
    from agents.verifier import Verifier


class HonestVerifier(VerifierStrategy[NoParams]):
    """Fetches every model, fuses, evaluates on the verification data and reports the truth."""

    def evaluate(self, agent: Verifier, task: TaskEntry, inputs: VerificationInput) -> Process:
        result = yield from self.verify_honestly(agent, task, inputs)
        return Report(result.accuracy, tuple(result.scores), result)
