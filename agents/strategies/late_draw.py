"""The late drawer: an initiator who draws the committee in the last second of reporting.

The paper's contract lets anyone draw until the reporting deadline and guarantees members no
time after the draw. Drawn at the last second, no member can report: all are absent, all
are slashed, and with no agreeing member the verifier pool and the slashed stakes go back to
the initiator — who then pays nothing for the task and pockets the verifiers' stakes.
Closed by ``tasks[i].report_window_s`` (reporting time counted from the draw) and, for the
stakes, ``tasks[i].burn_orphan_slashes``.
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
class LateDrawParams(Checked):
    """``[behaviours.late_draw]``: how close to the deadline the draw is sent."""

    margin_s: Annotated[int, Interval(0, None)] = 1
    """Seconds before the reporting deadline at which the draw transaction is sent (it lands
    in the next block)."""


class LateDraw(InitiatorStrategy[LateDrawParams]):
    """Draws the committee as late as the contract allows, so no member can report in time."""

    def draw_at(self, agent: Initiator, entry: TaskEntry) -> int:
        p = entry.params
        deadline = p.commit_deadline if p.commit_reveal else p.reveal_deadline
        block = agent.world.scenario.chain.block_interval_s
        # the transaction lands in the next block: aim for the last block before the deadline
        return max(p.draw_opens(), deadline - block - self.params.margin_s)
