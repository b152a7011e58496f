"""The free taker: an initiator who takes the submitted models and never lets the task pay.

Under the paper's contract every submitted CID is public on chain (``ModelSubmitted``,
``get_submissions``), and a task nobody draws a committee for is refunded in full at
finalization. The free taker waits until the submissions are readable (the submission
deadline, or the end of the sealed window), fetches and fuses every model for itself, and
never draws: at the reveal deadline it finalizes, gets its whole escrow back (the verifiers
their stakes), and holds a model no contributor was paid for. It needs no cancel, so the
cancel lock does not stop it, and sealed submissions only delay it until the reveal.

Closed for the model by ``tasks[i].encrypted_models``: contributors upload their models
encrypted and hand the keys only to committee members and, after payment, to the initiator;
what the free taker fetches is ciphertext. Its refund is closed by
``tasks[i].undrawn_pays_contributors``: a task finalized with submissions and no committee
pays its escrow to the contributors in equal shares. (A registrant drawing in its place
would not help: the members would have no verification data from it, be absent and
slashed, and the stakes would flow to it.)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from contracts.units import Address
from sim.recorder import Kind
from sim.strategies import NoParams
from sim.watcher import TaskEntry

from .base import InitiatorStrategy, Process

if TYPE_CHECKING:
    from agents.initiator import Initiator


class FreeAccess(InitiatorStrategy[NoParams]):
    """Fetches and fuses the submitted models once they are public, never draws the
    committee, and is refunded at finalization: models without payment."""

    def draw(self, agent: Initiator, entry: TaskEntry) -> Process:
        tid = entry.created.task_id
        yield agent.world.until(self.draw_at(agent, entry))
        outcome = yield from agent.access_model(entry, paid=False)
        got = outcome.models_used > 0
        if got:
            agent.record_taken(entry)
        agent.record(
            Kind.ATTACK,
            task=tid,
            ok=got,
            value=outcome.accuracy,
            detail=f"free_access: {outcome.models_used} models used without paying; "
            "no committee drawn",
        )
        members: tuple[Address, ...] = ()
        return members
