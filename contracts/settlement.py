"""What ``TaskMarket.finalize`` decides and pays, computed in plain Python.

A reference of the contract's settlement rules, wei for wei: the aggregation of the
committee's reports (the paper's majority, median or trimmed mean), the verdict against
the MAFR, which members agree with it, who is slashed, what each contributor and verifier
is credited, what returns to the initiator and what is burned (``burn_orphan_slashes``).
Tests check the contract against it, and analysis can use it to compute the *honest*
outcome of a task (what the contract would have paid had every verifier reported the
truth) without running a chain.

Integer arithmetic follows the EVM: ``//`` on signed values rounds toward zero.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import IntEnum

from contracts.units import BPS, PPM, Address, Wei


class Aggregation(IntEnum):
    """How finalize combines the committee's reports (values match the contract)."""

    MAJORITY = 0
    """The paper's rule: accepted when a strict majority report fused accuracy ≥ MAFR."""
    MEDIAN = 1
    TRIMMED_MEAN = 2
    CLAIM = 3
    """Claim settlement (issue 15): the paper's majority, tallied on chain as reports arrive
    (finalize is O(committee)); each contributor's pay is credited by ``claim_pay``. A
    submission's score is its *sum* over the reports on the winning side, and pay is
    ``cpool × S // Σ positive S``: the paper's rule without truncating each mean first
    (identical when one report wins; otherwise a share moves by a relative amount below
    winners / |mean|). Needs tolerance 0."""


@dataclass(frozen=True)
class Rules:
    """The task parameters settlement depends on (a subset of ``TaskParams``)."""

    mafr_bps: int
    verifier_share_bps: int
    verifier_stake: Wei = Wei(0)
    slash_bps: int = 0
    aggregation: Aggregation = Aggregation.MAJORITY
    trim_bps: int = 0
    tolerance_ppm: int = 0
    burn_orphan_slashes: bool = False
    """Slashed stakes with no agreeing member to take them are burned, not refunded."""
    unrevealed_slash_bps: int = 0
    """>0: the slash of a member without a revealed report (absent) instead of slash_bps."""
    undrawn_pays_contributors: bool = False
    """No committee drawn: the escrow pays the submissions equally (``settle_undrawn``)."""


@dataclass(frozen=True)
class Report:
    """One revealed report: fused accuracy and one score per submission (ppm)."""

    accuracy_ppm: int
    scores_ppm: tuple[int, ...]


@dataclass(frozen=True)
class Settlement:
    """The outcome of finalize, as the contract credits it."""

    accepted: bool
    aggregate_accuracy_ppm: int
    aggregate_scores_ppm: tuple[int, ...]
    """Per submission; the winning side's score *sums* for ``Aggregation.CLAIM``."""
    contributor_pay: tuple[Wei, ...]
    """Per submission index; 0 for submissions with a non-positive aggregate score."""
    agreeing: tuple[Address, ...]
    verifier_pay: Wei
    """What each agreeing member gets from the verifier pool and the slashed stakes."""
    slashed: Mapping[Address, Wei] = field(default_factory=dict)
    """Members who lost part of their stake (absent or disagreeing, when the cut is > 0)."""
    stake_returned: Mapping[Address, Wei] = field(default_factory=dict)
    refund: Wei = Wei(0)
    """Credited to the initiator: the unpaid pools and the rounding dust."""
    accepted_mask: int = 0
    burned: Wei = Wei(0)
    """Sent to the zero address (``burn_orphan_slashes`` with no agreeing member)."""

    def credits(self, initiator: Address, contributors: Sequence[Address]) -> dict[Address, Wei]:
        """Wei credited to each account by this settlement (accounts may repeat roles)."""
        out: dict[Address, int] = {}

        def add(account: Address, amount: int) -> None:
            if amount:
                out[account] = out.get(account, 0) + amount

        for account, amount in zip(contributors, self.contributor_pay, strict=True):
            add(account, amount)
        for v in self.agreeing:
            add(v, self.verifier_pay)
        for v, amount in self.stake_returned.items():
            add(v, amount)
        add(initiator, self.refund)
        return {a: Wei(x) for a, x in out.items()}


def tdiv(a: int, b: int) -> int:
    """Integer division rounding toward zero, as the EVM's SDIV (and Vyper's ``//``)."""
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b > 0) else -q


def robust_center(values: Sequence[int], aggregation: Aggregation, trim_bps: int) -> int:
    """Median (the two middle values averaged) or trimmed mean of a non-empty column."""
    a = sorted(values)
    n = len(a)
    if aggregation == Aggregation.MEDIAN:
        return a[n // 2] if n % 2 else tdiv(a[n // 2 - 1] + a[n // 2], 2)
    cut = n * trim_bps // BPS
    return tdiv(sum(a[cut : n - cut]), n - 2 * cut)


def aggregate(
    rules: Rules, reports: Sequence[Report], n_submissions: int
) -> tuple[bool, int, tuple[int, ...]]:
    """(accepted, aggregate accuracy, aggregate scores) of a non-empty list of reports."""
    threshold = rules.mafr_bps * (PPM // BPS)
    if rules.aggregation in (Aggregation.MAJORITY, Aggregation.CLAIM):
        above = sum(1 for r in reports if r.accuracy_ppm >= threshold)
        accepted = 2 * above > len(reports)
        winners = [r for r in reports if (r.accuracy_ppm >= threshold) == accepted]
        acc = sum(r.accuracy_ppm for r in winners) // len(winners)
        sums = [sum(r.scores_ppm[m] for r in winners) for m in range(n_submissions)]
        if rules.aggregation == Aggregation.CLAIM:
            # the contract tallies only the reports at or above the MAFR (the side that
            # pays); a rejected task pays no contributor, so its sums never matter
            if not accepted:
                return accepted, acc, tuple(0 for _ in range(n_submissions))
            return accepted, acc, tuple(sums)
        return accepted, acc, tuple(tdiv(x, len(winners)) for x in sums)
    acc = robust_center([r.accuracy_ppm for r in reports], rules.aggregation, rules.trim_bps)
    scores = tuple(
        robust_center([r.scores_ppm[m] for r in reports], rules.aggregation, rules.trim_bps)
        for m in range(n_submissions)
    )
    return acc >= threshold, acc, scores


def agrees(
    rules: Rules, report: Report | None, accepted: bool, acc: int, scores: Sequence[int]
) -> bool:
    """Whether a member's report agrees with the outcome (absent members never do)."""
    if report is None:
        return False
    if (report.accuracy_ppm >= rules.mafr_bps * (PPM // BPS)) != accepted:
        return False
    tol = rules.tolerance_ppm
    if tol == 0:
        return True
    if abs(report.accuracy_ppm - acc) > tol:
        return False
    return all(abs(s - a) <= tol for s, a in zip(report.scores_ppm, scores, strict=False))


def contributor_shares(cpool: int, scores: Sequence[int]) -> tuple[Wei, ...]:
    """cpool × s_i // Σ positive s, per submission; non-positive scores get nothing."""
    total = sum(s for s in scores if s > 0)
    if total == 0:
        return tuple(Wei(0) for _ in scores)
    return tuple(Wei(cpool * s // total if s > 0 else 0) for s in scores)


def settle(
    rules: Rules,
    escrow: Wei,
    committee: Sequence[Address],
    reports: Mapping[Address, Report],
    n_submissions: int,
) -> Settlement:
    """What finalize credits for a task whose committee was drawn.

    ``committee`` in the contract's order; ``reports`` holds the revealed reports
    (members missing from it are absent).
    """
    revealed = [reports[v] for v in committee if v in reports]
    accepted, acc, scores = False, 0, tuple[int, ...]()
    if revealed:
        accepted, acc, scores = aggregate(rules, revealed, n_submissions)
    vpool = escrow * rules.verifier_share_bps // BPS
    cpool = escrow - vpool
    stake = rules.verifier_stake
    cut = stake * rules.slash_bps // BPS
    # an absent member's cut: unrevealed_slash_bps when set, else the same as a dissenter's
    gone = stake * rules.unrevealed_slash_bps // BPS if rules.unrevealed_slash_bps else cut
    agreeing: list[Address] = []
    slashed: dict[Address, Wei] = {}
    returned: dict[Address, Wei] = {}
    for v in committee:
        if agrees(rules, reports.get(v), accepted, acc, scores):
            agreeing.append(v)
            kept: int = stake
        else:
            c = cut if v in reports else gone
            kept = stake - c
            if c:
                slashed[v] = Wei(c)
        if kept:
            returned[v] = Wei(kept)
    total_slashed = sum(slashed.values())
    pool: int = vpool + total_slashed
    share = pool // len(agreeing) if agreeing else 0
    refund: int = pool - share * len(agreeing)
    burned = 0
    if not agreeing and rules.burn_orphan_slashes:
        burned = total_slashed
        refund -= burned
    pay = tuple(Wei(0) for _ in range(n_submissions))
    mask = 0
    if accepted:
        pay = contributor_shares(cpool, scores)
        if rules.aggregation != Aggregation.CLAIM:  # claim tasks leave the mask 0
            mask = sum(1 << m for m, score in enumerate(scores) if score > 0)
        refund += cpool - sum(pay)
    else:
        refund += cpool
    return Settlement(
        accepted=accepted,
        aggregate_accuracy_ppm=acc,
        aggregate_scores_ppm=scores,
        contributor_pay=pay,
        agreeing=tuple(agreeing),
        verifier_pay=Wei(share),
        slashed=slashed,
        stake_returned=returned,
        refund=Wei(refund),
        accepted_mask=mask,
        burned=Wei(burned),
    )


def settle_undrawn(rules: Rules, escrow: Wei, n_submissions: int) -> tuple[tuple[Wei, ...], Wei]:
    """What finalize credits for a task nobody drew a committee for: (pay per submission,
    refund to the initiator). The paper's rule refunds the whole escrow; with
    ``undrawn_pays_contributors`` and submissions, the escrow is shared equally and only
    the dust returns. A claim-settled task credits the same through ``claim_pay``, one
    submission at a time, the dust with the last claim."""
    if not rules.undrawn_pays_contributors or n_submissions == 0:
        return tuple(Wei(0) for _ in range(n_submissions)), escrow
    pay = contributor_shares(escrow, [1] * n_submissions)
    return pay, Wei(escrow - sum(pay))
