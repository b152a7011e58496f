"""Typed Python bindings of ``TaskMarket.vy``: transactions, views and events.

Transactions are queued on the chain and return a ticket; the receipt arrives when the
simulator seals the next block (``Chain.seal``). Views read the latest sealed block.
Units follow the contract: accuracies and contribution scores in parts per million,
fractions in basis points, money in wei, deadlines in block-timestamp seconds.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass, fields
from enum import IntEnum
from typing import Any, ClassVar

import eth_abi
from eth_utils import keccak

from contracts.chain import Account, Chain, ContractAbi, DecodedEvent, Receipt
from contracts.errors import CallArgumentError, ChainError, TxFailed
from contracts.units import (
    BPS,
    MAX_COMMITTEE,
    MAX_REGISTRANTS,
    MAX_SUBMISSIONS,
    PAPER_SUBMISSIONS,
    PPM,
    Address,
    Cid,
    TaskId,
    Wei,
)

from . import compile_contract
from .settlement import Aggregation, Rules

__all__ = [
    "BPS",
    "EVENT_TYPES",
    "MAX_COMMITTEE",
    "MAX_REGISTRANTS",
    "MAX_SUBMISSIONS",
    "PAPER_SUBMISSIONS",
    "PPM",
    "AccessClaimed",
    "Aggregation",
    "CommitteeDrawn",
    "ContributorPaid",
    "DuplicateSubmission",
    "MarketEvent",
    "ModelCommitted",
    "ModelSubmitted",
    "Refunded",
    "ReportCommitted",
    "ReportRevealed",
    "SeedRequested",
    "SlashReason",
    "StakeBurned",
    "StakeReturned",
    "Submission",
    "Tally",
    "TaskCancelled",
    "TaskCreated",
    "TaskFinalized",
    "TaskMarket",
    "TaskParams",
    "TaskState",
    "VerifierPaid",
    "VerifierRegistered",
    "VerifierSlashed",
    "Withdrawn",
    "commitment",
    "model_commitment",
    "new_salt",
    "typed_event",
    "typed_events",
]


# Gas limits per call: generous upper bounds; only gas used is charged.
_GAS = {
    "create_task": 600_000,
    "submit_model": 400_000,
    "register_verifier": 200_000,
    "draw_committee": 10_000_000,
    "report": 300_000,
    "commit": 150_000,
    "reveal": 300_000,
    "finalize": 25_000_000,
    "withdraw": 100_000,
    "cancel": 10_000_000,
    "commit_model": 200_000,
    "reveal_model": 400_000,
    "claim_access": 100_000,
    # the last claim also returns the dust: up to five fresh storage words (~175 k gas)
    "claim_pay": 250_000,
}


def _report_gas(n_scores: int, claim: bool = False) -> int:
    """A paper report stores one word per score (~22k gas each when fresh); a claim-settled
    report adds its scores to sums packed eight to a word (~3.5k gas per score, measured
    in BENCHMARKS.md), so 1,000 scores fit a block."""
    if claim:
        return 400_000 + 6_000 * n_scores
    return 300_000 + 50_000 * n_scores


class SlashReason(IntEnum):
    ABSENT = 0
    DISAGREE = 1


@dataclass(frozen=True)
class TaskParams:
    """The rules of one task, fixed at creation (field order matches the contract struct)."""

    mafr_bps: int
    committee_size: int
    verifier_share_bps: int
    submission_deadline: int
    commit_deadline: int
    reveal_deadline: int
    verifier_stake: Wei = Wei(0)
    slash_bps: int = 0
    commit_reveal: bool = False
    aggregation: Aggregation = Aggregation.MAJORITY
    trim_bps: int = 0
    tolerance_ppm: int = 0
    """0: agreement is the paper's side-only rule; >0: values must also lie this close."""
    # Defences of issue 14 (the contract's header gives the full rules); each default is
    # off and reproduces the paper's behaviour exactly.
    report_window_s: int = 0
    """>0: members report (or commit, then reveal) within this many seconds of the draw,
    however late it came (closes the last-second draw)."""
    future_seed: bool = False
    """The first draw call fixes the next block; the draw uses that block's hash (closes
    committee grinding by choosing the block)."""
    no_cancel_after_submission: bool = False
    """cancel reverts once a model is submitted or committed (closes peek-and-cancel)."""
    sealed_window_s: int = 0
    """>0: contributors commit a CID hash before the submission deadline and reveal it
    within this window after; ``accepted_cids`` opens to all only after payment and the
    initiator records access by ``claim_access`` (closes peeking and free access)."""
    exclusive_roles: bool = False
    """A contributor may not verify the same task, nor a registrant contribute (closes the
    self-verifier Sybil)."""
    min_stake: Wei = Wei(0)
    """verifier_stake must be at least this (flooding the registrant pool locks stake)."""
    burn_orphan_slashes: bool = False
    """Slashed stakes with no agreeing member to take them are burned, never refunded to
    the initiator (closes the initiator's profit from absent members)."""
    unrevealed_slash_bps: int = 0
    """>0: a member without a revealed report (absent; in commit-reveal, one that committed
    and withheld) loses this share of its stake instead of slash_bps, so that revealing a
    dissent costs less than hiding it (closes the selective revealer); 0: off."""
    undrawn_pays_contributors: bool = False
    """A task finalized with submissions and no committee drawn pays its escrow to the
    contributors in equal shares instead of refunding the initiator (closes free access:
    reading the public models and never drawing)."""

    def as_abi(self, call: str = "TaskParams") -> tuple[Any, ...]:
        """The struct as the ABI encodes it; a wrong-typed field raises CallArgumentError.

        Fields are taken as they are (no ``int()`` coercion that would turn 80.5 or
        "8000" into a number silently): ints for numbers, a bool for commit_reveal.
        """
        out: list[Any] = []
        for f in fields(self):
            value = getattr(self, f.name)
            want_bool = f.type == "bool"
            ok = isinstance(value, bool) if want_bool else _is_int(value)
            if not ok:
                raise CallArgumentError(
                    f"{call}: params.{f.name} expected {'bool' if want_bool else 'int'}, "
                    f"got {value!r} ({type(value).__name__})"
                )
            out.append(value if want_bool else int(value))
        return tuple(out)

    def rules(self) -> Rules:
        """The parameters that settlement depends on (see ``contracts.settlement``)."""
        return Rules(
            mafr_bps=self.mafr_bps,
            verifier_share_bps=self.verifier_share_bps,
            verifier_stake=self.verifier_stake,
            slash_bps=self.slash_bps,
            aggregation=Aggregation(self.aggregation),
            trim_bps=self.trim_bps,
            tolerance_ppm=self.tolerance_ppm,
            burn_orphan_slashes=self.burn_orphan_slashes,
            unrevealed_slash_bps=self.unrevealed_slash_bps,
            undrawn_pays_contributors=self.undrawn_pays_contributors,
        )

    def deadlines(self, drawn_at: int | None) -> tuple[int, int]:
        """The members' (commit or report, reveal) deadlines, as the contract computes
        them; ``drawn_at`` is the draw's block timestamp (None: not drawn)."""
        w = self.report_window_s
        if w == 0 or drawn_at is None:
            return self.commit_deadline, self.reveal_deadline
        return drawn_at + w, drawn_at + (2 * w if self.commit_reveal else w)

    def draw_opens(self) -> int:
        """The first second at which the committee may be drawn."""
        return self.submission_deadline + self.sealed_window_s

    def draw_closes(self) -> int:
        """The draw must come before this second (the paper's report deadline)."""
        return self.commit_deadline if self.commit_reveal else self.reveal_deadline


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


@dataclass(frozen=True)
class TaskState:
    """A task as stored on chain."""

    task_id: TaskId
    initiator: Address
    escrow: Wei
    params: TaskParams
    n_submissions: int
    n_registered: int
    drawn: bool
    n_revealed: int
    finalized: bool
    cancelled: bool
    accepted: bool
    aggregate_accuracy_ppm: int
    accepted_mask: int
    drawn_at: int = 0
    seed_block: int = 0
    n_entrants: int = 0
    """Submissions plus sealed commitments."""


@dataclass(frozen=True)
class Tally:
    """A claim-settled task's running tally (``Aggregation.CLAIM``; zeros otherwise)."""

    n_above: int
    """Reports at or above the MAFR (the side that pays contributors)."""
    acc_above: int
    acc_all: int
    pos_total: int
    """Sum of the positive score sums over the reports at or above the MAFR (an undrawn
    task paid by ``undrawn_pays_contributors``: the number of submissions, each counting 1)."""
    n_pos: int
    """Submissions whose score sum is positive (undrawn and paid: every submission): the
    claims finalize leaves open."""
    pool: Wei
    """Contributor pool the claims share (set by finalize: an accepted task's contributor
    pool, an undrawn one's whole escrow with ``undrawn_pays_contributors``; 0 once the last
    claim is paid)."""
    paid: Wei
    n_paid: int


@dataclass(frozen=True)
class Submission:
    index: int
    contributor: Address
    cid: Cid


# ---------------------------------------------------------------- typed events


@dataclass(frozen=True)
class MarketEvent:
    """Base of the contract's events: where and when it was emitted."""

    block_number: int
    tx_hash: str


@dataclass(frozen=True)
class TaskCreated(MarketEvent):
    task_id: TaskId
    initiator: Address
    reward: Wei
    spec_cid: Cid


@dataclass(frozen=True)
class ModelSubmitted(MarketEvent):
    task_id: TaskId
    contributor: Address
    index: int
    cid: Cid


@dataclass(frozen=True)
class DuplicateSubmission(MarketEvent):
    task_id: TaskId
    contributor: Address
    index: int
    first_index: int


@dataclass(frozen=True)
class VerifierRegistered(MarketEvent):
    task_id: TaskId
    verifier: Address
    stake: Wei


@dataclass(frozen=True)
class CommitteeDrawn(MarketEvent):
    task_id: TaskId
    members: tuple[Address, ...]
    seed: bytes


@dataclass(frozen=True)
class ReportCommitted(MarketEvent):
    task_id: TaskId
    verifier: Address
    commitment: bytes


@dataclass(frozen=True)
class ReportRevealed(MarketEvent):
    task_id: TaskId
    verifier: Address
    accuracy_ppm: int
    scores_ppm: tuple[int, ...]


@dataclass(frozen=True)
class TaskFinalized(MarketEvent):
    task_id: TaskId
    accepted: bool
    aggregate_accuracy_ppm: int
    n_revealed: int
    n_agreeing: int


@dataclass(frozen=True)
class ContributorPaid(MarketEvent):
    task_id: TaskId
    contributor: Address
    index: int
    amount: Wei
    score_ppm: int


@dataclass(frozen=True)
class VerifierPaid(MarketEvent):
    task_id: TaskId
    verifier: Address
    amount: Wei


@dataclass(frozen=True)
class VerifierSlashed(MarketEvent):
    task_id: TaskId
    verifier: Address
    amount: Wei
    reason: SlashReason


@dataclass(frozen=True)
class StakeReturned(MarketEvent):
    task_id: TaskId
    verifier: Address
    amount: Wei


@dataclass(frozen=True)
class Refunded(MarketEvent):
    task_id: TaskId
    initiator: Address
    amount: Wei


@dataclass(frozen=True)
class TaskCancelled(MarketEvent):
    task_id: TaskId


@dataclass(frozen=True)
class Withdrawn(MarketEvent):
    account: Address
    amount: Wei


@dataclass(frozen=True)
class SeedRequested(MarketEvent):
    task_id: TaskId
    seed_block: int


@dataclass(frozen=True)
class ModelCommitted(MarketEvent):
    task_id: TaskId
    contributor: Address
    commitment: bytes


@dataclass(frozen=True)
class StakeBurned(MarketEvent):
    task_id: TaskId
    amount: Wei


@dataclass(frozen=True)
class AccessClaimed(MarketEvent):
    task_id: TaskId
    initiator: Address


EVENT_TYPES: dict[str, type[MarketEvent]] = {
    cls.__name__: cls
    for cls in (
        TaskCreated,
        ModelSubmitted,
        DuplicateSubmission,
        VerifierRegistered,
        CommitteeDrawn,
        ReportCommitted,
        ReportRevealed,
        TaskFinalized,
        ContributorPaid,
        VerifierPaid,
        VerifierSlashed,
        StakeReturned,
        Refunded,
        TaskCancelled,
        Withdrawn,
        SeedRequested,
        ModelCommitted,
        StakeBurned,
        AccessClaimed,
    )
}


def typed_event(event: DecodedEvent) -> MarketEvent:
    """The typed form of one decoded TaskMarket log."""
    cls = EVENT_TYPES[event.name]
    args = {}
    for f in fields(cls):
        if f.name in ("block_number", "tx_hash"):
            continue
        value = event.args[f.name]
        if isinstance(value, list):
            value = tuple(value)
        if f.name == "reason":
            value = SlashReason(value)
        args[f.name] = value
    return cls(block_number=event.block_number, tx_hash=event.tx_hash, **args)


def typed_events(receipt: Receipt) -> list[MarketEvent]:
    """Every TaskMarket event of a receipt, typed, in log order."""
    return [typed_event(e) for e in receipt.events if e.name in EVENT_TYPES]


def commitment(
    task_id: int, verifier: Address, accuracy_ppm: int, scores_ppm: Sequence[int], salt: bytes
) -> bytes:
    """What a verifier commits: keccak256(abi_encode(task, verifier, accuracy, scores, salt))."""
    encoded = eth_abi.encode(
        ["uint256", "address", "uint256", "int256[]", "bytes32"],
        [task_id, verifier, accuracy_ppm, list(scores_ppm), salt],
    )
    return keccak(encoded)


def model_commitment(task_id: int, contributor: Address, cid: str, salt: bytes) -> bytes:
    """What a contributor commits for a sealed submission:
    keccak256(abi_encode(task_id, contributor, keccak256(cid), salt))."""
    encoded = eth_abi.encode(
        ["uint256", "address", "bytes32", "bytes32"],
        [task_id, contributor, keccak(cid.encode()), salt],
    )
    return keccak(encoded)


def new_salt(rng: Any | None = None) -> bytes:
    """32 random bytes for a commitment (from ``rng`` when given, for reproducible runs)."""
    return bytes(rng.bytes(32)) if rng is not None else secrets.token_bytes(32)


# ---------------------------------------------------------------- the binding


class TaskMarket:
    """A deployed TaskMarket on a ``Chain``."""

    NAME: ClassVar[str] = "TaskMarket"

    def __init__(self, chain: Chain, address: Address):
        self.chain = chain
        self.address = address
        self.abi: ContractAbi = compile_contract(self.NAME).contract_abi
        chain.register_abi(address, self.abi)

    @classmethod
    def deploy(cls, chain: Chain, deployer: Account) -> int:
        """Queue the deployment; ``attach`` the receipt's contract address once sealed."""
        compiled = compile_contract(cls.NAME)
        return chain.send(
            deployer, None, compiled.bytecode, gas=10_000_000, label="deploy TaskMarket"
        )

    @classmethod
    def deploy_now(
        cls, chain: Chain, deployer: Account, timestamp: int | None = None
    ) -> TaskMarket:
        """Deploy and seal a block at once (tests, tools)."""
        ticket = cls.deploy(chain, deployer)
        block = chain.seal(timestamp if timestamp is not None else chain.head_timestamp + 1)
        receipt = next(r for r in block.receipts if r.ticket == ticket).raise_for_status()
        if receipt.contract_address is None:
            raise ChainError("deploy TaskMarket: receipt carries no contract address")
        return cls(chain, receipt.contract_address)

    # ------------------------------------------------------------ transactions

    def _send(
        self,
        sender: Account,
        fn: str,
        args: Sequence[Any],
        value: int = 0,
        gas: int | None = None,
        value_name: str = "value",
    ) -> int:
        label = f"{self.NAME}.{fn}"
        if not isinstance(sender, Account):
            raise CallArgumentError(
                f"{label}: argument 'sender' expected an Account, got {type(sender).__name__}"
            )
        if not _is_int(value) or value < 0:
            raise CallArgumentError(
                f"{label}: argument {value_name!r} expected a non-negative int of wei, "
                f"got {value!r} ({type(value).__name__})"
            )
        data = self.abi.encode_call(fn, args)
        return self.chain.send(
            sender, self.address, data, value=value, gas=gas or _GAS[fn], label=label
        )

    def _scores(self, fn: str, scores_ppm: Sequence[int]) -> list[int]:
        """The scores as a list (element types are checked by the ABI encoder)."""
        if isinstance(scores_ppm, str | bytes) or not isinstance(scores_ppm, Sequence):
            raise CallArgumentError(
                f"{self.NAME}.{fn}: argument 'scores_ppm' expected a sequence of ints, "
                f"got {scores_ppm!r} ({type(scores_ppm).__name__})"
            )
        return list(scores_ppm)

    def _bytes32(self, fn: str, name: str, value: bytes) -> bytes:
        """Exactly 32 bytes (the ABI encoder would right-pad a shorter value silently)."""
        if not isinstance(value, bytes) or len(value) != 32:
            size = f"{len(value)} bytes" if isinstance(value, bytes) else type(value).__name__
            raise CallArgumentError(
                f"{self.NAME}.{fn}: argument {name!r} expected 32 bytes, got {size}"
            )
        return value

    def create_task(self, sender: Account, spec_cid: Cid, params: TaskParams, reward: Wei) -> int:
        call = f"{self.NAME}.create_task"
        if not isinstance(params, TaskParams):
            raise CallArgumentError(
                f"{call}: argument 'params' expected TaskParams, got {type(params).__name__}"
            )
        args = [spec_cid, params.as_abi(call)]
        return self._send(sender, "create_task", args, value=reward, value_name="reward")

    def submit_model(self, sender: Account, task_id: TaskId, cid: Cid) -> int:
        return self._send(sender, "submit_model", [task_id, cid])

    def commit_model(self, sender: Account, task_id: TaskId, commitment_hash: bytes) -> int:
        digest = self._bytes32("commit_model", "commitment_hash", commitment_hash)
        return self._send(sender, "commit_model", [task_id, digest])

    def reveal_model(self, sender: Account, task_id: TaskId, cid: Cid, salt: bytes) -> int:
        args = [task_id, cid, self._bytes32("reveal_model", "salt", salt)]
        return self._send(sender, "reveal_model", args)

    def claim_access(self, sender: Account, task_id: TaskId) -> int:
        return self._send(sender, "claim_access", [task_id])

    def register_verifier(self, sender: Account, task_id: TaskId, stake: Wei) -> int:
        return self._send(sender, "register_verifier", [task_id], value=stake, value_name="stake")

    def cancel(self, sender: Account, task_id: TaskId) -> int:
        return self._send(sender, "cancel", [task_id])

    def draw_committee(self, sender: Account, task_id: TaskId) -> int:
        return self._send(sender, "draw_committee", [task_id])

    def report(
        self,
        sender: Account,
        task_id: TaskId,
        accuracy_ppm: int,
        scores_ppm: Sequence[int],
        claim: bool = False,
    ) -> int:
        """``claim``: the task is claim-settled: sent to ``report_claim`` (with a zero salt),
        under a lower gas limit that fits 1,000 scores."""
        scores = self._scores("report", scores_ppm)
        gas = _report_gas(len(scores), claim)
        if claim:
            args = [task_id, accuracy_ppm, scores, bytes(32)]
            return self._send(sender, "report_claim", args, gas=gas)
        return self._send(sender, "report", [task_id, accuracy_ppm, scores], gas=gas)

    def commit(self, sender: Account, task_id: TaskId, commitment_hash: bytes) -> int:
        digest = self._bytes32("commit", "commitment_hash", commitment_hash)
        return self._send(sender, "commit", [task_id, digest])

    def reveal(
        self,
        sender: Account,
        task_id: TaskId,
        accuracy_ppm: int,
        scores_ppm: Sequence[int],
        salt: bytes,
        claim: bool = False,
    ) -> int:
        """``claim``: the task is claim-settled: sent to ``report_claim`` (same commitment)."""
        scores = self._scores("reveal", scores_ppm)
        args = [task_id, accuracy_ppm, scores, self._bytes32("reveal", "salt", salt)]
        call = "report_claim" if claim else "reveal"
        return self._send(sender, call, args, gas=_report_gas(len(scores), claim))

    def finalize(self, sender: Account, task_id: TaskId) -> int:
        return self._send(sender, "finalize", [task_id])

    def withdraw(self, sender: Account) -> int:
        return self._send(sender, "withdraw", [])

    def claim_pay(self, sender: Account, task_id: TaskId, index: int) -> int:
        """Credit submission ``index`` of a finalized claim-settled task its pay (accepted:
        by its score sum; undrawn with ``undrawn_pays_contributors``: an equal share); anyone
        may send it, the contributor is credited."""
        return self._send(sender, "claim_pay", [task_id, index])

    # ------------------------------------------------------------ views

    def _view(self, fn: str, *args: Any, sender: Address | None = None) -> Any:
        data = self.abi.encode_call(fn, args)
        label = f"{self.NAME}.{fn}"
        out = self.chain.call(self.address, data, sender=sender, label=label)
        return self.abi.function(fn).decode_output(out)

    def get_task(self, task_id: TaskId) -> TaskState:
        raw = self._view("get_task", task_id)
        p = dict(raw["params"])
        p["aggregation"] = Aggregation(p["aggregation"])
        return TaskState(
            task_id=task_id,
            initiator=raw["initiator"],
            escrow=Wei(raw["escrow"]),
            params=TaskParams(**p),
            n_submissions=raw["n_submissions"],
            n_registered=raw["n_registered"],
            drawn=raw["drawn"],
            n_revealed=raw["n_revealed"],
            finalized=raw["finalized"],
            cancelled=raw["cancelled"],
            accepted=raw["accepted"],
            aggregate_accuracy_ppm=raw["aggregate_accuracy_ppm"],
            accepted_mask=raw["accepted_mask"],
            drawn_at=raw["drawn_at"],
            seed_block=raw["seed_block"],
            n_entrants=raw["n_entrants"],
        )

    def submissions(self, task_id: TaskId) -> list[Submission]:
        rows = self._view("get_submissions", task_id)
        return [Submission(i, r["contributor"], Cid(r["cid"])) for i, r in enumerate(rows)]

    def registrants(self, task_id: TaskId) -> list[Address]:
        return list(self._view("get_registrants", task_id))

    def committee(self, task_id: TaskId) -> list[Address]:
        return list(self._view("get_committee", task_id))

    def get_report(self, task_id: TaskId, verifier: Address) -> tuple[bool, int, list[int]]:
        revealed, acc, scores = self._view("get_report", task_id, verifier)
        return bool(revealed), int(acc), list(scores)

    def tally(self, task_id: TaskId) -> Tally:
        raw = self._view("get_tally", task_id)
        return Tally(
            n_above=raw["n_above"],
            acc_above=raw["acc_above"],
            acc_all=raw["acc_all"],
            pos_total=raw["pos_total"],
            n_pos=raw["n_pos"],
            pool=Wei(raw["pool"]),
            paid=Wei(raw["paid"]),
            n_paid=raw["n_paid"],
        )

    def score_sum(self, task_id: TaskId, index: int) -> int:
        """A claim-settled task's score sum of submission ``index`` (reports ≥ MAFR)."""
        return int(self._view("score_sum", task_id, index))

    def claimed(self, task_id: TaskId, index: int) -> bool:
        return bool(self._view("claimed", task_id, index))

    def credit(self, account: Address) -> Wei:
        return Wei(self._view("credit", account))

    def total_credit(self) -> Wei:
        return Wei(self._view("total_credit"))

    def total_locked(self) -> Wei:
        return Wei(self._view("total_locked"))

    def total_burned(self) -> Wei:
        return Wei(self._view("total_burned"))

    def next_task_id(self) -> int:
        return int(self._view("next_task_id"))

    def _known(self, task_id: TaskId, call: str) -> TaskState:
        """The task, or TxFailed as the contract's views word it."""
        try:
            return self.get_task(task_id)
        except TxFailed as err:
            raise self._refused(call, "unknown task") from err

    def _refused(self, call: str, why: str) -> TxFailed:
        return TxFailed(f"{call}: {why}", call=f"{self.NAME}.{call}")

    def has_access(self, task_id: TaskId, account: Address) -> bool:
        """The paper's access after payment: the initiator of an accepted, finalized task.

        Read off chain from public state: a ``msg.sender`` check in a view is no access
        control (issue 14, finding 2); ``claim_access`` records access on chain."""
        t = self._known(task_id, "has_access")
        return t.finalized and t.accepted and account == t.initiator

    def accepted_cids(self, task_id: TaskId, caller: Address) -> list[Cid]:
        """The paid models' CIDs after payment: for the initiator ``caller``, or for anyone
        when the task took sealed submissions. The rule is applied here, off chain: the
        data (accepted_mask over the submissions) is public once the task is finalized."""
        t = self._known(task_id, "accepted_cids")
        if t.params.sealed_window_s == 0 and caller != t.initiator:
            raise self._refused("accepted_cids", "only the initiator")
        if not (t.finalized and t.accepted):
            raise self._refused("accepted_cids", "task not paid")
        subs = self.submissions(task_id)
        if t.params.aggregation == Aggregation.CLAIM:
            return [s.cid for s in subs if self.score_sum(task_id, s.index) > 0]
        return [s.cid for s in subs if (t.accepted_mask >> s.index) & 1]
