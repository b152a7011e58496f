"""The offline verifier: takes a seat and never reports."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sim.strategies import NoParams
from sim.verification import VerificationInput
from sim.watcher import TaskEntry

from .base import Process, VerifierStrategy

if TYPE_CHECKING:
    from agents.verifier import Verifier


class OfflineVerifier(VerifierStrategy[NoParams]):
    """Registers and stakes, then never reports."""

    def evaluate(self, agent: Verifier, task: TaskEntry, inputs: VerificationInput) -> Process:
        yield agent.env.timeout(0)
        return None
