"""The ledger: every movement of money the market makes, as recorded events.

Subscribes to the market's payment events and records them against the agents they concern
(contributors paid, verifiers paid, slashed or refunded their stake, initiators refunded), the
committee draws (with the on-chain seed) and the task outcomes. Money is taken from the chain's
own events, never computed off-chain. Money to or from a Sybil account (``Directory.add_alias``)
is booked to the participant that controls it, its ``detail`` naming the account.
"""

from __future__ import annotations

from contracts.taskmarket import (
    CommitteeDrawn,
    ContributorPaid,
    DuplicateSubmission,
    MarketEvent,
    Refunded,
    StakeReturned,
    TaskFinalized,
    VerifierPaid,
    VerifierRegistered,
    VerifierSlashed,
)
from contracts.units import PPM, Address
from sim.directory import Directory
from sim.recorder import Kind, Recorder
from sim.scenario import CostSection
from sim.watcher import ChainWatcher

# Each payment event: the row kind and the attribute naming the account it concerns.
_MONEY: dict[type[MarketEvent], tuple[Kind, str]] = {
    ContributorPaid: (Kind.PAID, "contributor"),
    VerifierPaid: (Kind.PAID, "verifier"),
    VerifierSlashed: (Kind.SLASHED, "verifier"),
    StakeReturned: (Kind.STAKE_RETURNED, "verifier"),
    Refunded: (Kind.REFUNDED, "initiator"),
}


class Ledger:
    """Records the market's payment events as rows of the event table.

    With a cost of capital (``costs.stake_rate_per_year`` > 0) it also charges each verifier
    for the time its stake was locked: from the block that registered it to the block that
    released it (returned or slashed), one ``capital_cost`` row per registration. A stake
    still locked when the run ends is not charged.
    """

    def __init__(
        self,
        watcher: ChainWatcher,
        recorder: Recorder,
        directory: Directory,
        costs: CostSection | None = None,
    ):
        self._recorder = recorder
        self._directory = directory
        self._costs = costs
        self._locked: dict[tuple[int, Address], tuple[float, int]] = {}
        watcher.subscribe(MarketEvent, self._on_event)

    def _name(self, address: Address) -> str:
        return self._directory.label(address)

    def _capital(self, e: MarketEvent) -> None:
        """Start or end the clock on a verifier's locked stake."""
        if self._costs is None or self._costs.stake_rate_per_year == 0:
            return
        now = self._recorder.now()
        if isinstance(e, VerifierRegistered) and e.stake > 0:
            self._locked[(e.task_id, e.verifier)] = (now, e.stake)
        elif isinstance(e, (StakeReturned, VerifierSlashed)):
            locked = self._locked.pop((e.task_id, e.verifier), None)
            if locked is not None:  # the first release ends the lock (a slash, then the rest)
                since, stake = locked
                self._recorder.record(
                    Kind.CAPITAL_COST,
                    self._name(e.verifier),
                    task=e.task_id,
                    wei=self._costs.capital_cost(stake, now - since),
                    value=now - since,
                    detail=f"stake of {stake} wei locked",
                )

    def _on_event(self, e: MarketEvent) -> None:
        self._capital(e)
        if isinstance(e, (ContributorPaid, VerifierPaid, VerifierSlashed, StakeReturned, Refunded)):
            kind, who = _MONEY[type(e)]
            address = getattr(e, who)
            detail = _detail(e)
            if self._directory.is_alias(address):  # booked to the Sybil's owner
                detail = f"{detail}; Sybil account {address}" if detail else f"Sybil {address}"
            self._recorder.record(
                kind,
                self._name(address),
                task=e.task_id,
                wei=e.amount,
                tx_hash=e.tx_hash,
                value=e.score_ppm / PPM if isinstance(e, ContributorPaid) else None,
                detail=detail,
            )
        elif isinstance(e, DuplicateSubmission):
            self._recorder.record(
                Kind.DUPLICATE_SUBMISSION,
                self._name(e.contributor),
                task=e.task_id,
                tx_hash=e.tx_hash,
                detail=f"submission {e.index} repeats {e.first_index}",
            )
        elif isinstance(e, CommitteeDrawn):
            members = ", ".join(self._name(m) for m in e.members)
            self._recorder.record(
                Kind.COMMITTEE_DRAWN,
                None,
                task=e.task_id,
                value=float(len(e.members)),
                tx_hash=e.tx_hash,
                detail=f"seed 0x{e.seed.hex()}; members {members or 'none'}",
            )
        elif isinstance(e, TaskFinalized):
            verdict = "accepted" if e.accepted else "rejected"
            self._recorder.record(
                Kind.TASK_FINALIZED,
                None,
                task=e.task_id,
                ok=e.accepted,
                value=e.aggregate_accuracy_ppm / PPM,
                tx_hash=e.tx_hash,
                detail=f"{verdict}; {e.n_revealed} reports, {e.n_agreeing} agreeing",
            )


def _detail(e: MarketEvent) -> str | None:
    if isinstance(e, ContributorPaid):
        return f"submission {e.index}"
    if isinstance(e, VerifierPaid):
        return "verification"
    if isinstance(e, VerifierSlashed):
        return e.reason.name.lower()
    return None
