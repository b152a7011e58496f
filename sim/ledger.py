"""The ledger: every movement of money the market makes, as recorded events.

Subscribes to the market's payment events and records them against the agents they concern
(contributors paid, verifiers paid, slashed or refunded their stake, initiators refunded), and
the task outcome. Money is taken from the chain's own events, never computed off-chain.
"""

from __future__ import annotations

from contracts.taskmarket import (
    ContributorPaid,
    DuplicateSubmission,
    MarketEvent,
    Refunded,
    StakeReturned,
    TaskFinalized,
    VerifierPaid,
    VerifierSlashed,
)
from sim.recorder import Kind, Recorder
from sim.types import PPM, Address
from sim.watcher import ChainWatcher


class Ledger:
    """Records the market's payment events as rows of the event table."""

    def __init__(self, watcher: ChainWatcher, recorder: Recorder, directory: dict[Address, str]):
        self._recorder = recorder
        self._directory = directory
        watcher.subscribe(MarketEvent, self._on_event)

    def _name(self, address: Address) -> str:
        return self._directory.get(address, address)

    def _on_event(self, e: MarketEvent) -> None:
        rec = self._recorder
        if isinstance(e, ContributorPaid):
            rec.record(
                Kind.PAID,
                self._name(e.contributor),
                task=e.task_id,
                wei=e.amount,
                value=e.score_ppm / PPM,
                tx_hash=e.tx_hash,
                detail=f"submission {e.index}",
            )
        elif isinstance(e, VerifierPaid):
            rec.record(
                Kind.PAID,
                self._name(e.verifier),
                task=e.task_id,
                wei=e.amount,
                tx_hash=e.tx_hash,
                detail="verification",
            )
        elif isinstance(e, VerifierSlashed):
            rec.record(
                Kind.SLASHED,
                self._name(e.verifier),
                task=e.task_id,
                wei=e.amount,
                tx_hash=e.tx_hash,
                detail=e.reason.name.lower(),
            )
        elif isinstance(e, StakeReturned):
            rec.record(
                Kind.STAKE_RETURNED,
                self._name(e.verifier),
                task=e.task_id,
                wei=e.amount,
                tx_hash=e.tx_hash,
            )
        elif isinstance(e, Refunded):
            rec.record(
                Kind.REFUNDED,
                self._name(e.initiator),
                task=e.task_id,
                wei=e.amount,
                tx_hash=e.tx_hash,
            )
        elif isinstance(e, DuplicateSubmission):
            rec.record(
                Kind.DUPLICATE_SUBMISSION,
                self._name(e.contributor),
                task=e.task_id,
                tx_hash=e.tx_hash,
                detail=f"submission {e.index} repeats {e.first_index}",
            )
        elif isinstance(e, TaskFinalized):
            rec.record(
                Kind.TASK_FINALIZED,
                None,
                task=e.task_id,
                ok=e.accepted,
                value=e.aggregate_accuracy_ppm / PPM,
                tx_hash=e.tx_hash,
                detail=f"{'accepted' if e.accepted else 'rejected'}; "
                f"{e.n_revealed} reports, {e.n_agreeing} agreeing",
            )
