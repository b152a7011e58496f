"""The selective revealer: a commit–reveal member who reveals only when it would agree.

With commit–reveal, members commit a hash of their report and reveal it after the commit
deadline; a member may reveal at any time until the reveal deadline, so one who waits sees
the others' revealed reports first (issue 14, finding 6). The selective revealer does the
honest work and commits it, then looks ``look_blocks`` blocks before the reveal deadline:
if its report would disagree with the outcome the revealed reports plus its own give (the
contract's rule, ``contracts.settlement``), it stays silent. The contract slashes an absent
member exactly as much as a disagreeing one, so silence costs it nothing more: it saves the
reveal transaction's gas, and the market loses its dissenting report (``n_revealed`` drops,
the record shows no dissent; with median or trimmed-mean aggregation the withheld value would
have moved the aggregate). When every other member is honest it always agrees and behaves
as an honest verifier. ``tasks[i].unrevealed_slash_fraction`` above ``slash_fraction``
makes its silence cost more than the dissent it hides (it withholds all the same, and pays
the difference).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated

from contracts.settlement import Report as Revealed
from contracts.settlement import aggregate, agrees
from contracts.units import TaskId, to_ppm
from sim.config import Checked, Interval
from sim.verification import VerificationInput
from sim.watcher import TaskEntry

from .base import Process, Report, VerifierStrategy

if TYPE_CHECKING:
    from agents.verifier import Verifier


@dataclass(frozen=True)
class SelectiveParams(Checked):
    """``[behaviours.selective_revealer]``: when it looks at the others' reveals."""

    look_blocks: Annotated[int, Interval(1, None)] = 2
    """Blocks before the reveal deadline at which it reads the revealed reports and decides
    (its reveal, if any, is sent then)."""


class SelectiveRevealer(VerifierStrategy[SelectiveParams]):
    """Verifies honestly and commits, then reveals only if its report would agree with the
    outcome of the reports already revealed."""

    def evaluate(self, agent: Verifier, task: TaskEntry, inputs: VerificationInput) -> Process:
        result = yield from self.verify_honestly(agent, task, inputs)
        return Report(result.accuracy, tuple(result.scores), result)

    def reveal_at(self, agent: Verifier, task: TaskEntry) -> int:
        commit_closes, reveal_closes = task.deadlines()
        block = agent.world.scenario.chain.block_interval_s
        return max(commit_closes, reveal_closes - self.params.look_blocks * block)

    def reveals(self, agent: Verifier, task: TaskEntry, report: Report) -> bool:
        tid = TaskId(task.created.task_id)
        market = agent.world.market
        own = Revealed(
            to_ppm(report.accuracy), tuple(to_ppm(s, signed=True) for s in report.scores)
        )
        others = []
        for member in task.committee or ():
            if member == agent.account.address:
                continue
            revealed, accuracy, theirs = market.get_report(tid, member)
            if revealed:
                others.append(Revealed(accuracy, tuple(theirs)))
        rules = task.params.rules()
        accepted, acc, agg_scores = aggregate(rules, [*others, own], len(own.scores_ppm))
        return agrees(rules, own, accepted, acc, agg_scores)
