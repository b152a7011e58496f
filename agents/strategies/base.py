"""The strategy base classes: one abstract base per role, with the decisions it makes.

In the spirit of Flower's ``Strategy``: the role's process (``agents/contributor.py``,
``verifier.py``, ``initiator.py``) runs the protocol steps — register, stake, upload, submit,
commit, reveal, withdraw — and asks its strategy at each decision point. A strategy is built
once per agent, with its kind's parameters (``self.params``: the scenario's
``[behaviours.<kind>]`` table, a frozen dataclass) and its kind's name (``self.name``).

Decisions that take simulated time are SimPy generators: they ``yield`` events (or
``yield from`` the agent's helpers: ``agent.compute``, ``agent.fetch_models``) and ``return``
the decision. Randomness comes from the agent's own stream (``agent.stream``), never a global
RNG, so a run stays reproducible.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Generator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import simpy

from contracts.units import BPS, Address
from sim.recorder import Kind
from sim.verification import VerificationInput, VerificationResult, verify
from sim.watcher import TaskEntry

if TYPE_CHECKING:
    from agents.contributor import Contributor
    from agents.initiator import Initiator
    from agents.verifier import Verifier, VerifierDuties
    from sim.learning.config import PrivacyConfig

Process = Generator[simpy.Event, Any, Any]
P = TypeVar("P")


@dataclass(frozen=True)
class Report:
    """What a verifier puts on chain, beside what an honest computation gives (truth)."""

    accuracy: float
    """The fused accuracy reported (fraction)."""
    scores: tuple[float, ...]
    """One contribution score per submission, in the order of ``inputs.cids``."""
    truth: VerificationResult | None
    """What honest work finds (recorded beside the claim; None if unknown)."""


class Strategy(Generic[P]):
    """What every strategy holds: its kind's name and parameters."""

    def __init__(self, params: P, name: str = "honest") -> None:
        self.params = params
        self.name = name


def mafr(task: TaskEntry) -> float:
    """The task's minimum acceptable fitness rate as a fraction."""
    return task.params.mafr_bps / BPS


# ====================================================================== contributors


class ContributorStrategy(Strategy[P], ABC):
    """How a contributor produces the model it submits.

    The process fetches the task spec before, and uploads and submits what ``produce``
    returns after (nothing when it returns None).
    """

    @abstractmethod
    def produce(self, agent: Contributor, task: TaskEntry) -> Process:
        """Return the model file (bytes) to submit, or None; spend the compute it needs."""

    def planned_training(self, agent: Contributor) -> float | None:
        """The label-flip rate of the training ``produce`` will ask for, None if it trains
        nothing: told to the learning layer when the agent joins a task, so it can start the
        training early (on a cluster) or batch it (``training.batched``)."""
        return None

    def train(
        self,
        agent: Contributor,
        task: TaskEntry,
        label_flip_rate: float,
        privacy: PrivacyConfig | None = None,
    ) -> Process:
        """Train the recommended model on the agent's shard (``label_flip_rate`` of its labels
        flipped; ``privacy``: DP-SGD settings replacing the scenario's), spending the training
        time; return the weights. A DP model's spent ε is recorded (``privacy_spent``)."""
        learning = agent.world.learning
        trained = learning.train(
            agent.index, agent.training_seed, label_flip_rate=label_flip_rate, privacy=privacy
        )
        tid = task.created.task_id
        yield from agent.compute(learning.train_seconds(trained.samples_processed), tid, "training")
        agent.record(
            Kind.MODEL_TRAINED,
            task=tid,
            value=trained.validation_accuracy,
            bytes=len(trained.weights),
            detail=f"{trained.samples_processed} samples processed",
        )
        settings = privacy or agent.world.scenario.training.privacy
        if trained.epsilon is not None and settings is not None:
            agent.record(
                Kind.PRIVACY_SPENT,
                task=tid,
                value=trained.epsilon,
                detail=f"{settings.mechanism} at δ = {settings.delta:g}, "
                f"clipping norm {settings.max_grad_norm}",
            )
        return trained.weights

    def after_submit(self, agent: Contributor, task: TaskEntry) -> Process:
        """What the contributor does once its model is on chain, before it waits for the
        outcome; nothing (no simulated time) by default."""
        return None
        yield  # a generator that returns at once


# ====================================================================== verifiers


class VerifierStrategy(Strategy[P], ABC):
    """What a committee member reports.

    The process waits for the verification data and the submissions before, and reports (or
    commits, then reveals at ``reveal_at`` if ``reveals``) what ``evaluate`` returns after.
    """

    @abstractmethod
    def evaluate(self, agent: Verifier, task: TaskEntry, inputs: VerificationInput) -> Process:
        """Return the ``Report`` to put on chain, or None to stay silent."""

    def work(self, agent: Verifier, task: TaskEntry) -> Process | None:
        """A protocol of the strategy's own for ``task`` (a process), or None: the standard
        one (stake, serve if drawn, settle)."""
        return None

    def reveal_at(self, agent: Verifier, task: TaskEntry) -> int:
        """The chain time at which a committed report is revealed: once commits close."""
        return task.deadlines()[0]

    def reveals(self, agent: Verifier, task: TaskEntry, report: Report) -> bool:
        """Whether to reveal the committed ``report`` at ``reveal_at``; always, by default."""
        return True

    def verify_honestly(
        self, agent: VerifierDuties, task: TaskEntry, inputs: VerificationInput
    ) -> Process:
        """The real work: download, inspect, fuse and score (spending its compute time)."""
        result: VerificationResult = yield from verify_honestly(agent, task, inputs)
        return result


def verify_honestly(agent: VerifierDuties, task: TaskEntry, inputs: VerificationInput) -> Process:
    """The real work of a committee member: download, inspect, fuse and score (spending its
    compute time); the ``VerificationResult``."""
    blobs = yield from agent.fetch_models(task, inputs.cids)
    result = verify(agent.world.learning, inputs, blobs)
    yield from agent.compute(result.reference_seconds, task.created.task_id, "verification")
    agent.record_evaluation(task, result)
    return result


# ====================================================================== initiators


class InitiatorStrategy(Strategy[P], ABC):
    """How an initiator runs a task it created; each default is what an honest one does.

    The process publishes the spec and creates the task, then runs ``prepare``; if
    ``cancel_at`` names a time it waits until then, fetches the submitted models first when
    ``peek`` says so, and cancels (when the contract refuses, it carries on); ``draw`` gets
    the committee (by default: ``agent.draw`` at ``draw_at``), the process sends the
    verification data to ``hand_out``'s members and runs ``after_draw``; it finalizes,
    withdraws, runs ``after_finalize`` and, when the task was accepted, takes its models.
    """

    def prepare(self, agent: Initiator, entry: TaskEntry) -> Process:
        """Work between creating the task and its submission deadline (an attacker's setup)."""
        yield from ()

    def draw(self, agent: Initiator, entry: TaskEntry) -> Process:
        """Get the committee drawn; its members' addresses (empty: no committee)."""
        members: tuple[Address, ...] = yield from agent.draw(entry)
        return members

    def after_draw(
        self, agent: Initiator, entry: TaskEntry, members: tuple[Address, ...]
    ) -> Process:
        """Work while the committee reports (an attacker's own members report here)."""
        yield from ()

    def after_finalize(self, agent: Initiator, entry: TaskEntry) -> Process:
        """Work once the task is finalized and the initiator's credit withdrawn."""
        yield from ()

    def cancel_at(self, agent: Initiator, entry: TaskEntry) -> int | None:
        """The chain time at which to cancel the task (refunding the escrow); None: never."""
        return None

    def peek(self, agent: Initiator, entry: TaskEntry) -> bool:
        """Whether to fetch and use the submitted models before cancelling (no payment)."""
        return False

    def draw_at(self, agent: Initiator, entry: TaskEntry) -> int:
        """The chain time at which to ask for the committee draw (the contract refuses any
        time before the submission deadline, or before the sealed window closes)."""
        return entry.params.draw_opens()

    def hand_out(
        self, agent: Initiator, entry: TaskEntry, members: tuple[Address, ...]
    ) -> tuple[Address, ...]:
        """The committee members that get the verification data."""
        return members
