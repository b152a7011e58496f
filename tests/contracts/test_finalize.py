"""finalize: aggregation, agreement and slashing, payment arithmetic, access, withdrawals.

Hand-computed cases pin the rules; every finalize is also checked, wei for wei and event
for event, against the Python reference ``contracts.settlement.settle``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from contracts.chain import Receipt
from contracts.errors import TxFailed
from contracts.settlement import Aggregation, Report, Settlement, settle
from contracts.taskmarket import SlashReason
from contracts.units import ETHER, Address, Cid, Wei

if TYPE_CHECKING:
    from tests.contracts.conftest import Harness, TaskCtx


def _reports(ctx: TaskCtx, rows: list[tuple[int, list[int]] | None]) -> dict[Address, Report]:
    """Reports by committee position; None leaves that member absent."""
    assert len(rows) <= len(ctx.committee)
    return {
        v.address: Report(row[0], tuple(row[1]))
        for v, row in zip(ctx.committee, rows, strict=False)
        if row is not None
    }


def finalize_and_check(
    market: Harness, ctx: TaskCtx, reports: dict[Address, Report], reported: bool = False
) -> tuple[Receipt, Settlement]:
    """Report (unless done), finalize, check credits, locks and events against the reference."""
    m = market.market
    if not reported:
        market.report(ctx, reports)
    involved = [market.initiator, market.outsider, *ctx.contributors, *ctx.registrants]
    before = market.credits(involved)
    locked, total_credit = m.total_locked(), m.total_credit()
    r = market.finalize(ctx)
    members = [v.address for v in ctx.committee]
    expected = settle(ctx.params.rules(), ctx.reward, members, reports, len(ctx.contributors))
    credits = expected.credits(market.initiator.address, [c.address for c in ctx.contributors])
    after = market.credits(involved)
    assert {a: after[a] - before[a] for a in after if after[a] != before[a]} == credits
    escrowed = ctx.reward + len(members) * ctx.params.verifier_stake
    assert sum(credits.values()) == escrowed  # every wei of the task goes somewhere
    assert m.total_locked() == locked - escrowed
    assert m.total_credit() == total_credit + escrowed
    assert market.chain.balance(m.address) == m.total_locked() + m.total_credit()
    _check_events(market, r, ctx, expected)
    task = m.get_task(ctx.task_id)
    assert task.finalized and task.accepted == expected.accepted
    assert task.aggregate_accuracy_ppm == expected.aggregate_accuracy_ppm
    assert task.accepted_mask == expected.accepted_mask
    return r, expected


def _check_events(market: Harness, r: Receipt, ctx: TaskCtx, s: Settlement) -> None:
    ev = market.events
    (fin,) = ev(r, "TaskFinalized")
    assert (fin.accepted, fin.aggregate_accuracy_ppm, fin.n_revealed, fin.n_agreeing) == (
        s.accepted,
        s.aggregate_accuracy_ppm,
        market.market.get_task(ctx.task_id).n_revealed,
        len(s.agreeing),
    )
    paid = [(e.index, e.contributor, e.amount, e.score_ppm) for e in ev(r, "ContributorPaid")]
    assert paid == [
        (i, ctx.contributors[i].address, s.contributor_pay[i], s.aggregate_scores_ppm[i])
        for i in range(len(ctx.contributors))
        if s.accepted and s.aggregate_scores_ppm[i] > 0
    ]
    assert [(e.verifier, e.amount) for e in ev(r, "VerifierPaid")] == [
        (v, s.verifier_pay) for v in s.agreeing
    ]
    assert {e.verifier: e.amount for e in ev(r, "VerifierSlashed")} == dict(s.slashed)
    assert {e.verifier: e.amount for e in ev(r, "StakeReturned")} == dict(s.stake_returned)
    assert [e.amount for e in ev(r, "Refunded")] == ([s.refund] if s.refund else [])


# ---------------------------------------------------------------- timing and repetition


def test_finalize_waits_for_the_reveal_deadline_and_runs_once(market: Harness) -> None:
    m = market.market
    ctx = market.task()
    deadline = ctx.params.reveal_deadline
    market.fails(
        m.finalize(market.outsider, ctx.task_id),
        "finalize: reveal deadline not reached",
        at=deadline - 1,
    )
    market.ok(m.finalize(market.outsider, ctx.task_id), at=deadline)
    market.fails(m.finalize(market.initiator, ctx.task_id), "finalize: task finalized")
    v, tid = ctx.committee[0], ctx.task_id
    market.all_fail(
        [
            (m.report(v, tid, 1, [0, 0, 0]), "report: task finalized"),
            (m.cancel(market.initiator, tid), "cancel: task finalized"),
            (m.draw_committee(v, tid), "draw_committee: task finalized"),
            (m.submit_model(market.outsider, tid, Cid("bafk")), "submit_model: task finalized"),
        ]
    )


def test_finalize_of_a_commit_reveal_task_waits_for_the_reveal_deadline(market: Harness) -> None:
    ctx = market.task(commit_reveal=True)
    market.fails(
        market.market.finalize(market.outsider, ctx.task_id),
        "finalize: reveal deadline not reached",
        at=ctx.params.reveal_deadline - 1,
    )


# ---------------------------------------------------------------- majority (the paper's rule)


def test_majority_accepts_and_pays_by_contribution(market: Harness) -> None:
    ctx = market.task(n_sub=3, n_reg=3)  # reward 10 ether, 20 % to verifiers, stake 1, slash 50 %
    rows: list[tuple[int, list[int]] | None] = [
        (900_000, [300_000, 100_000, -50_000]),
        (850_000, [100_000, 100_000, -70_000]),
        (500_000, [0, 0, 0]),  # below the MAFR: outvoted, disagrees, slashed
    ]
    r, s = finalize_and_check(market, ctx, _reports(ctx, rows))
    assert s.accepted and s.aggregate_accuracy_ppm == 875_000
    assert s.aggregate_scores_ppm == (200_000, 100_000, -60_000)
    # contributors share 8 ether by 200k : 100k; the negative score is paid nothing
    assert s.contributor_pay == (5_333_333_333_333_333_333, 2_666_666_666_666_666_666, 0)
    # verifier pool 2 ether + half of C's stake, shared by A and B
    a, b, c = (v.address for v in ctx.committee)
    assert s.agreeing == (a, b) and s.verifier_pay == Wei(1_250_000_000_000_000_000)
    assert dict(s.slashed) == {c: ETHER // 2}
    assert s.refund == 1  # the dust of the contributor shares
    (slash,) = market.events(r, "VerifierSlashed")
    assert slash.reason == SlashReason.DISAGREE


def test_a_tie_is_not_a_majority(market: Harness) -> None:
    ctx = market.task(n_sub=2, n_reg=4, committee_size=4)
    rows: list[tuple[int, list[int]] | None] = [
        (800_000, [1, 1]),  # exactly the MAFR counts as above
        (950_000, [1, 1]),
        (799_999, [5, -3]),
        (100_000, [2, -6]),
    ]
    _, s = finalize_and_check(market, ctx, _reports(ctx, rows))
    assert not s.accepted
    assert s.aggregate_accuracy_ppm == (799_999 + 100_000) // 2
    assert s.aggregate_scores_ppm == (3, -4)  # mean of the winning (rejecting) side
    assert s.agreeing == tuple(v.address for v in ctx.committee[2:])
    assert s.contributor_pay == (0, 0)
    assert s.refund == 8 * ETHER  # the contributors' pool goes back to the initiator


def test_majority_counts_revealed_reports_only(market: Harness) -> None:
    ctx = market.task(n_sub=1, n_reg=3)
    rows: list[tuple[int, list[int]] | None] = [(900_000, [10]), (700_000, [10]), None]
    r, s = finalize_and_check(market, ctx, _reports(ctx, rows))
    assert not s.accepted  # one of two revealed is not a majority
    a, b, c = (v.address for v in ctx.committee)
    assert s.agreeing == (b,)
    reasons = {e.verifier: e.reason for e in market.events(r, "VerifierSlashed")}
    assert reasons == {a: SlashReason.DISAGREE, c: SlashReason.ABSENT}
    assert s.verifier_pay == 2 * ETHER + ETHER  # the pool and two half stakes


def test_negative_means_round_toward_zero(market: Harness) -> None:
    ctx = market.task(n_sub=2, n_reg=2, committee_size=2)
    rows: list[tuple[int, list[int]] | None] = [(900_000, [-5, 3]), (900_000, [0, 0])]
    _, s = finalize_and_check(market, ctx, _reports(ctx, rows))
    assert s.aggregate_scores_ppm == (-2, 1)  # the EVM's signed division truncates


# ---------------------------------------------------------------- median and trimmed mean


def test_median_of_an_odd_committee(market: Harness) -> None:
    ctx = market.task(n_sub=2, n_reg=3, aggregation=Aggregation.MEDIAN)
    rows: list[tuple[int, list[int]] | None] = [
        (700_000, [900_000, -10]),
        (900_000, [100_000, 20]),
        (850_000, [200_000, 30]),
    ]
    _, s = finalize_and_check(market, ctx, _reports(ctx, rows))
    assert s.accepted and s.aggregate_accuracy_ppm == 850_000
    assert s.aggregate_scores_ppm == (200_000, 20)
    assert s.agreeing == tuple(v.address for v in ctx.committee[1:])


def test_median_of_an_even_committee_averages_the_middle_pair(market: Harness) -> None:
    ctx = market.task(n_sub=1, n_reg=4, committee_size=4, aggregation=Aggregation.MEDIAN)
    rows: list[tuple[int, list[int]] | None] = [
        (700_000, [-3]),
        (750_000, [-2]),
        (850_000, [-1]),
        (900_000, [-9]),
    ]
    _, s = finalize_and_check(market, ctx, _reports(ctx, rows))
    # (750k + 850k) / 2 = 800k reaches the MAFR, where the majority rule (2 of 4) would not
    assert s.accepted and s.aggregate_accuracy_ppm == 800_000
    assert s.aggregate_scores_ppm == (-2,)  # (-3 + -2) / 2 rounds toward zero
    assert s.contributor_pay == (0,) and s.refund >= 8 * ETHER


def test_trimmed_mean_drops_the_extremes(market: Harness) -> None:
    ctx = market.task(
        n_sub=2, n_reg=5, committee_size=5, aggregation=Aggregation.TRIMMED_MEAN, trim_bps=2000
    )
    rows: list[tuple[int, list[int]] | None] = [
        (100_000, [1_000_000, -1_000_000]),  # lowest accuracy, extreme scores: trimmed
        (820_000, [300_000, 10]),
        (840_000, [200_000, 20]),
        (860_000, [100_000, 30]),
        (1_000_000, [-1_000_000, 1_000_000]),
    ]
    _, s = finalize_and_check(market, ctx, _reports(ctx, rows))
    assert s.accepted and s.aggregate_accuracy_ppm == 840_000
    assert s.aggregate_scores_ppm == (200_000, 20)


# ---------------------------------------------------------------- tolerance


@pytest.mark.parametrize("tolerance", [0, 50_000])
def test_tolerance_slashes_members_far_from_the_aggregate(market: Harness, tolerance: int) -> None:
    ctx = market.task(n_sub=2, n_reg=3, aggregation=Aggregation.MEDIAN, tolerance_ppm=tolerance)
    rows: list[tuple[int, list[int]] | None] = [
        (900_000, [500_000, 500_000]),
        (880_000, [480_000, 540_000]),
        (950_000, [900_000, 100_000]),  # on the winning side, far from the aggregate
    ]
    r, s = finalize_and_check(market, ctx, _reports(ctx, rows))
    assert s.accepted
    far = ctx.committee[2].address
    if tolerance:
        assert far not in s.agreeing and len(s.agreeing) == 2
        assert [e.reason for e in market.events(r, "VerifierSlashed")] == [SlashReason.DISAGREE]
    else:
        assert far in s.agreeing and len(s.agreeing) == 3  # the paper's rule: side only


def test_tolerance_boundary_is_inclusive(market: Harness) -> None:
    ctx = market.task(n_sub=1, n_reg=3, aggregation=Aggregation.MEDIAN, tolerance_ppm=10)
    rows: list[tuple[int, list[int]] | None] = [
        (900_000, [100]),
        (900_010, [110]),  # exactly the tolerance away: agrees
        (899_989, [100]),  # 11 away in accuracy: disagrees
    ]
    _, s = finalize_and_check(market, ctx, _reports(ctx, rows))
    assert s.agreeing == tuple(v.address for v in ctx.committee[:2])


# ---------------------------------------------------------------- payment edge cases


def test_all_absent_committee_refunds_the_initiator_with_the_slashed_stakes(
    market: Harness,
) -> None:
    ctx = market.task(n_sub=2, n_reg=3, commit_reveal=True)
    r, s = finalize_and_check(market, ctx, {})
    assert not s.accepted and s.agreeing == ()
    assert s.refund == ctx.reward + 3 * ETHER // 2
    assert [e.reason for e in market.events(r, "VerifierSlashed")] == [SlashReason.ABSENT] * 3


def test_a_task_whose_committee_was_never_drawn_returns_everything(market: Harness) -> None:
    m = market.market
    ctx = market.create()
    market.submit(ctx, 2)
    market.register(ctx, 4)
    before = market.credits()
    locked = m.total_locked()
    r = market.finalize(ctx)
    (fin,) = market.events(r, "TaskFinalized")
    assert (fin.accepted, fin.aggregate_accuracy_ppm, fin.n_revealed, fin.n_agreeing) == (
        False,
        0,
        0,
        0,
    )
    after = market.credits()
    delta = {a: after[a] - before[a] for a in after if after[a] != before[a]}
    assert delta == {market.initiator.address: ctx.reward} | {
        v.address: ETHER for v in ctx.registrants
    }
    assert market.events(r, "VerifierSlashed") == [] and market.events(r, "VerifierPaid") == []
    assert m.total_locked() == locked - ctx.reward - 4 * ETHER


def test_a_task_with_zero_submissions(market: Harness) -> None:
    ctx = market.task(n_sub=0, n_reg=3)
    rows: list[tuple[int, list[int]] | None] = [(900_000, []), (900_000, []), (900_000, [])]
    r, s = finalize_and_check(market, ctx, _reports(ctx, rows))
    assert s.accepted and s.contributor_pay == ()
    # nobody to pay: the contributors' pool goes back, with the verifier pool's dust
    assert s.refund == 8 * ETHER + 2 * ETHER % 3
    assert market.events(r, "ContributorPaid") == []


def test_accepted_with_no_positive_score_pays_no_contributor(market: Harness) -> None:
    ctx = market.task(n_sub=2, n_reg=3)
    rows: list[tuple[int, list[int]] | None] = [(900_000, [0, -5])] * 3
    _, s = finalize_and_check(market, ctx, _reports(ctx, rows))
    assert s.accepted and s.contributor_pay == (0, 0) and s.accepted_mask == 0
    assert s.refund == 8 * ETHER + 2 * ETHER % 3
    assert market.market.accepted_cids(ctx.task_id, market.initiator.address) == []


@pytest.mark.parametrize(
    ("change", "check"),
    [
        ({"slash_bps": 10_000}, "all-slashed"),
        ({"slash_bps": 0}, "no-slash"),
        ({"verifier_share_bps": 0}, "no-pool"),
        ({"verifier_share_bps": 10_000}, "all-pool"),
        ({"verifier_stake": Wei(0)}, "no-stake"),
    ],
)
def test_extreme_shares_and_stakes(market: Harness, change: dict[str, Any], check: str) -> None:
    ctx = market.task(n_sub=2, n_reg=3, **change)
    rows: list[tuple[int, list[int]] | None] = [
        (900_000, [3, 1]),
        (900_000, [3, 1]),
        (100_000, [0, 0]),
    ]
    r, s = finalize_and_check(market, ctx, _reports(ctx, rows))
    loser = ctx.committee[2].address
    returned = {e.verifier for e in market.events(r, "StakeReturned")}
    if check == "all-slashed":
        assert loser not in returned and s.slashed == {loser: ETHER}
    elif check == "no-slash":
        assert loser in returned and market.events(r, "VerifierSlashed") == []
        assert loser not in s.agreeing
    elif check == "no-pool":
        assert s.verifier_pay == ETHER // 4  # only the slashed half stake, shared by two
    elif check == "all-pool":
        assert s.contributor_pay == (0, 0) and s.verifier_pay == 5 * ETHER + ETHER // 4
    else:
        assert returned == set() and s.verifier_pay == ETHER


def test_rounding_dust_goes_to_the_initiator(market: Harness) -> None:
    reward = Wei(10**18 + 7)
    ctx = market.task(n_sub=3, n_reg=3, reward=reward, verifier_share_bps=3333)
    rows: list[tuple[int, list[int]] | None] = [(900_000, [1, 1, 1])] * 3
    _, s = finalize_and_check(market, ctx, _reports(ctx, rows))
    vpool = reward * 3333 // 10_000
    cpool = reward - vpool
    assert s.verifier_pay == vpool // 3
    assert s.contributor_pay == (cpool // 3,) * 3
    assert s.refund == vpool - 3 * (vpool // 3) + cpool - 3 * (cpool // 3)
    assert s.refund > 0


def test_roles_may_overlap_across_tasks_and_credits_add_up(market: Harness) -> None:
    first = market.task(n_sub=2, n_reg=3)
    second = market.task(n_sub=2, n_reg=3)
    rows: list[tuple[int, list[int]] | None] = [(900_000, [1, 2])] * 3
    finalize_and_check(market, first, _reports(first, rows))
    finalize_and_check(market, second, _reports(second, rows))


# ---------------------------------------------------------------- access after payment


def test_access_after_payment(market: Harness) -> None:
    m = market.market
    ctx = market.task(n_sub=3, n_reg=3)
    init, other = market.initiator.address, market.outsider.address
    tid = ctx.task_id
    for caller, reason in [(init, "task not paid"), (other, "only the initiator")]:
        with pytest.raises(TxFailed, match=f"accepted_cids: {reason}"):
            m.accepted_cids(tid, caller)
    assert not m.has_access(tid, init)
    rows: list[tuple[int, list[int]] | None] = [(900_000, [5, -1, 7])] * 3
    finalize_and_check(market, ctx, _reports(ctx, rows))
    cids = [s.cid for s in m.submissions(tid)]
    assert m.accepted_cids(tid, init) == [cids[0], cids[2]]
    assert m.has_access(tid, init)
    assert not m.has_access(tid, other) and not m.has_access(tid, ctx.contributors[0].address)
    with pytest.raises(TxFailed, match="accepted_cids: only the initiator"):
        m.accepted_cids(tid, ctx.contributors[0].address)


def test_no_access_after_a_rejected_task(market: Harness) -> None:
    m = market.market
    ctx = market.task(n_sub=2, n_reg=3)
    rows: list[tuple[int, list[int]] | None] = [(100_000, [5, 5])] * 3
    finalize_and_check(market, ctx, _reports(ctx, rows))
    assert not m.has_access(ctx.task_id, market.initiator.address)
    with pytest.raises(TxFailed, match="accepted_cids: task not paid"):
        m.accepted_cids(ctx.task_id, market.initiator.address)


# ---------------------------------------------------------------- withdraw


def test_withdraw_pays_the_credit_once(market: Harness) -> None:
    m, chain = market.market, market.chain
    ctx = market.task(n_sub=2, n_reg=3)
    rows: list[tuple[int, list[int]] | None] = [(900_000, [1, 1])] * 3
    finalize_and_check(market, ctx, _reports(ctx, rows))
    who = ctx.contributors[0]
    owed = m.credit(who.address)
    assert owed == 4 * ETHER
    before, total = chain.balance(who.address), m.total_credit()
    r = market.ok(m.withdraw(who))
    (w,) = market.events(r, "Withdrawn")
    assert (w.account, w.amount) == (who.address, owed)
    assert chain.balance(who.address) == before + owed - r.fee
    assert m.credit(who.address) == 0 and m.total_credit() == total - owed
    market.fails(m.withdraw(who), "withdraw: nothing to withdraw")
    market.fails(m.withdraw(market.outsider), "withdraw: nothing to withdraw")
    assert chain.balance(m.address) == m.total_locked() + m.total_credit()


# ---------------------------------------------------------------- the largest task


@pytest.mark.slow
def test_the_largest_task_fits_the_binding_gas_limits(market: Harness) -> None:
    """64 submissions, 128 registrants, 32 members, median with tolerance."""
    m = market.market
    ctx = market.create(
        committee_size=32, aggregation=Aggregation.MEDIAN, tolerance_ppm=1, verifier_stake=Wei(0)
    )
    market.submit(ctx, 64)
    market.register(ctx, 128 - 64)  # the contributors register too: roles may overlap
    people = ctx.contributors[:]
    tickets = [m.register_verifier(v, ctx.task_id, Wei(0)) for v in people]
    market.all_ok(tickets)
    ctx.registrants.extend(people)
    market.draw(ctx)
    assert ctx.draw_receipt is not None and ctx.draw_receipt.gas_used < 10_000_000
    reports = {
        v.address: Report(
            900_000 + i, tuple((i * 7919 + j * 104_729) % 2_000_001 - 1_000_000 for j in range(64))
        )
        for i, v in enumerate(ctx.committee)
    }
    members = list(ctx.committee)
    for start in range(0, 32, 8):  # 8 reports of 64 scores per block
        batch = members[start : start + 8]
        tickets = [
            m.report(
                v, ctx.task_id, reports[v.address].accuracy_ppm, list(reports[v.address].scores_ppm)
            )
            for v in batch
        ]
        for rec in market.all_ok(tickets):
            assert rec.gas_used < 300_000 + 50_000 * 64
    r, s = finalize_and_check(market, ctx, reports, reported=True)
    assert r.gas_used < 25_000_000
    assert s.accepted
