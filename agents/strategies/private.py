"""The private contributor: trains honestly, but with differentially private SGD.

Its own DP-SGD settings (``[behaviours.private]``) replace the scenario's
``training.privacy``, so a scenario can mix private and ordinary contributors and the
deviation analysis can ask whether privacy is individually affordable: a DP model is less
accurate, so contribution-based pay pays it less.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Literal

from sim.config import POSITIVE, Checked, Interval
from sim.learning.config import PrivacyConfig
from sim.watcher import TaskEntry

from .base import ContributorStrategy, Process

if TYPE_CHECKING:
    from agents.contributor import Contributor


@dataclass(frozen=True)
class PrivateParams(Checked):
    """``[behaviours.private]``: the private contributor's DP-SGD settings, and the training
    settings it uses instead of ``[training]``'s (DP-SGD is tuned differently)."""

    epsilon: Annotated[float, POSITIVE] = 1.0
    """The privacy budget ε spent over the whole training (> 0)."""
    delta: Annotated[float, Interval(0, 1, closed="neither")] = 1e-5
    """δ, in (0, 1)."""
    max_grad_norm: Annotated[float, POSITIVE] = 1.0
    """Per-sample gradient clipping norm."""
    epochs: Annotated[int | None, POSITIVE] = None
    """Passes over its shard (unset: ``[training]``'s ``epochs``)."""
    batch_size: Annotated[int | None, POSITIVE] = None
    """Expected minibatch size (sampling rate: batch_size / shard; unset: ``[training]``'s)."""
    lr: Annotated[float | None, POSITIVE] = None
    """Learning rate (unset: ``[training]``'s)."""
    optimizer: Literal["adam", "sgd"] | None = None
    """Adam or SGD with momentum (unset: ``[training]``'s)."""
    momentum: Annotated[float | None, Interval(0, 1)] = None
    """SGD momentum (unset: ``[training]``'s)."""

    def privacy(self) -> PrivacyConfig:
        return PrivacyConfig(
            "dp_sgd", self.epsilon, self.delta, self.max_grad_norm,
            epochs=self.epochs, batch_size=self.batch_size, lr=self.lr,
            optimizer=self.optimizer, momentum=self.momentum,
        )  # fmt: skip


class PrivateContributor(ContributorStrategy[PrivateParams]):
    """Trains the recommended model on its shard with DP-SGD and submits it."""

    def produce(self, agent: Contributor, task: TaskEntry) -> Process:
        return (yield from self.train(agent, task, 0.0, privacy=self.params.privacy()))
