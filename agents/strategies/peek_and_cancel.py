"""The peeker: an initiator who takes the submitted models and cancels for a full refund.

Under the paper's contract every submitted CID is public on chain at once, and the initiator
may cancel until the submission deadline, refunding the whole escrow. The peeker waits for
the submissions, fetches and fuses them (the model it wanted), then cancels: contributors
trained for nothing. Closed by ``tasks[i].no_cancel_after_submission`` (the cancel reverts
and the task runs, paid, as usual).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated

from sim.config import Checked, Interval
from sim.watcher import TaskEntry

from .base import InitiatorStrategy

if TYPE_CHECKING:
    from agents.initiator import Initiator


@dataclass(frozen=True)
class PeekParams(Checked):
    """``[behaviours.peek_and_cancel]``: when the peeker strikes."""

    blocks_before: Annotated[int, Interval(1, None)] = 3
    """Blocks before the submission deadline at which it fetches the models and cancels."""


class PeekAndCancel(InitiatorStrategy[PeekParams]):
    """Fetches every submitted model just before submissions close, then cancels the task."""

    def cancel_at(self, agent: Initiator, entry: TaskEntry) -> int | None:
        block = agent.world.scenario.chain.block_interval_s
        return entry.params.submission_deadline - self.params.blocks_before * block

    def peek(self, agent: Initiator, entry: TaskEntry) -> bool:
        return True
