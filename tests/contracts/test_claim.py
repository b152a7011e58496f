"""Claim settlement (``Aggregation.CLAIM``): the tally, finalize in O(committee), claim_pay.

Every figure is checked against ``contracts.settlement.settle`` (the reference), wei for wei,
and the market must hold exactly what it still owes after each step.
"""

from __future__ import annotations

import pytest

from contracts.settlement import Aggregation, Report, contributor_shares, settle, settle_undrawn
from contracts.units import PAPER_SUBMISSIONS, Address, Cid, Wei
from tests.contracts.conftest import Harness, TaskCtx


def _scores(n: int, seed: int) -> tuple[int, ...]:
    return tuple((seed * 7919 + j * 104_729) % 400_001 - 150_000 for j in range(n))


def _holds_what_it_owes(market: Harness) -> None:
    m = market.market
    assert market.chain.balance(m.address) == m.total_locked() + m.total_credit()


def _claim_all(market: Harness, ctx: TaskCtx, n_sub: int) -> dict[int, int]:
    """Claim every submission with a positive sum; the amount each ContributorPaid says."""
    m = market.market
    owed = [i for i in range(n_sub) if m.score_sum(ctx.task_id, i) > 0]
    block = market.seal_tickets([m.claim_pay(market.outsider, ctx.task_id, i) for i in owed])
    paid: dict[int, int] = {}
    for r in block:
        for e in market.events(r.raise_for_status(), "ContributorPaid"):
            paid[e.index] = e.amount
    return paid


def _settled_task(
    market: Harness, n_sub: int, accs: tuple[int, ...], commit_reveal: bool = False
) -> tuple[TaskCtx, dict[Address, Report]]:
    ctx = market.task(
        n_sub=n_sub,
        n_reg=len(accs),
        committee_size=len(accs),
        aggregation=Aggregation.CLAIM,
        commit_reveal=commit_reveal,
    )
    reports = {
        v.address: Report(acc, _scores(n_sub, i))
        for i, (v, acc) in enumerate(zip(ctx.committee, accs, strict=True))
    }
    market.report(ctx, reports)
    return ctx, reports


@pytest.mark.parametrize("commit_reveal", [False, True])
def test_claims_pay_the_reference_to_the_wei_and_return_the_dust(
    market: Harness, commit_reveal: bool
) -> None:
    n_sub = PAPER_SUBMISSIONS + 6  # above the paper's cap
    ctx, reports = _settled_task(market, n_sub, (900_000, 850_000, 100_000), commit_reveal)
    m = market.market
    before = market.credits()
    r = market.finalize(ctx)
    assert not market.events(r, "ContributorPaid")  # finalize pays no contributor
    s = settle(ctx.params.rules(), ctx.reward, [v.address for v in ctx.committee], reports, n_sub)
    assert s.accepted
    tally = m.tally(ctx.task_id)
    assert tally.n_above == 2 and tally.pool == ctx.reward - ctx.reward * 2000 // 10_000
    assert [m.score_sum(ctx.task_id, i) for i in range(n_sub)] == list(s.aggregate_scores_ppm)
    assert tally.n_pos == sum(1 for x in s.aggregate_scores_ppm if x > 0)
    _holds_what_it_owes(market)

    paid = _claim_all(market, ctx, n_sub)
    want = contributor_shares(tally.pool, s.aggregate_scores_ppm)
    assert paid == {i: w for i, w in enumerate(want) if s.aggregate_scores_ppm[i] > 0}
    after = market.credits()
    gained = {a: after[a] - before.get(a, 0) for a in after if after[a] != before.get(a, 0)}
    expected = s.credits(market.initiator.address, [c.address for c in ctx.contributors])
    assert gained == expected  # verifiers, stakes, contributors and the dust, to the wei
    assert m.tally(ctx.task_id).pool == 0
    assert m.total_locked() == 0
    _holds_what_it_owes(market)


def test_a_claim_is_paid_once_and_only_when_owed(market: Harness) -> None:
    n_sub = 4
    ctx, _ = _settled_task(market, n_sub, (900_000, 900_000))
    m = market.market
    negative = next(i for i in range(n_sub) if sum(_scores(n_sub, s)[i] for s in (0, 1)) <= 0)
    positive = next(i for i in range(n_sub) if sum(_scores(n_sub, s)[i] for s in (0, 1)) > 0)
    why = "claim_pay: nothing owed to this submission"
    market.fails(m.claim_pay(market.outsider, ctx.task_id, positive), why)  # not finalized
    market.finalize(ctx)
    market.fails(m.claim_pay(market.outsider, ctx.task_id, negative), why)
    market.fails(m.claim_pay(market.outsider, ctx.task_id, n_sub), why)
    market.ok(m.claim_pay(market.outsider, ctx.task_id, positive))
    assert m.claimed(ctx.task_id, positive)
    market.fails(m.claim_pay(market.outsider, ctx.task_id, positive), why)
    _holds_what_it_owes(market)


def test_a_rejected_claim_task_refunds_the_pool_at_finalize(market: Harness) -> None:
    ctx, reports = _settled_task(market, 3, (900_000, 100_000, 200_000))
    r = market.finalize(ctx)
    m = market.market
    assert not m.get_task(ctx.task_id).accepted
    assert m.tally(ctx.task_id).pool == 0 and m.total_locked() == 0
    (refund,) = market.events(r, "Refunded")
    s = settle(ctx.params.rules(), ctx.reward, [v.address for v in ctx.committee], reports, 3)
    assert refund.amount == s.refund
    market.fails(
        m.claim_pay(market.outsider, ctx.task_id, 0), "claim_pay: nothing owed to this submission"
    )


@pytest.mark.parametrize("on", [False, True])
def test_an_undrawn_claim_task_pays_its_contributors_by_claims(market: Harness, on: bool) -> None:
    """undrawn_pays_contributors on a claim task: too many submissions to pay in finalize,
    so finalize locks the escrow as the claim pool and each submission claims an equal
    share (score 1), the last with the dust: what settle_undrawn says, to the wei."""
    n_sub = PAPER_SUBMISSIONS + 6  # above the paper's cap
    ctx = market.create(aggregation=Aggregation.CLAIM, undrawn_pays_contributors=on)
    market.submit(ctx, n_sub)
    market.register(ctx, 2)
    m = market.market
    before = market.credits()
    r = market.finalize(ctx)
    assert not market.events(r, "ContributorPaid")  # finalize pays no contributor
    task = m.get_task(ctx.task_id)
    assert task.finalized and not task.accepted and task.accepted_mask == 0
    pay, refund = settle_undrawn(ctx.params.rules(), ctx.reward, n_sub)
    why = "claim_pay: nothing owed to this submission"
    if not on:
        assert m.tally(ctx.task_id).pool == 0
        market.fails(m.claim_pay(market.outsider, ctx.task_id, 0), why)
    else:
        tally = m.tally(ctx.task_id)
        assert (tally.pool, tally.n_pos, tally.pos_total) == (ctx.reward, n_sub, n_sub)
        _holds_what_it_owes(market)
        tickets = [m.claim_pay(market.outsider, ctx.task_id, i) for i in range(n_sub)]
        paid = [
            e
            for rec in market.seal_tickets(tickets)
            for e in market.events(rec.raise_for_status(), "ContributorPaid")
        ]
        assert [(e.index, e.amount, e.score_ppm) for e in paid] == [
            (i, pay[i], 1) for i in range(n_sub)
        ]
        market.fails(m.claim_pay(market.outsider, ctx.task_id, 0), why)
    got = {a: market.market.credit(a) - x for a, x in before.items()}
    assert [got[c.address] for c in ctx.contributors] == list(pay)
    assert got[market.initiator.address] == refund
    assert refund == (ctx.reward % n_sub if on else ctx.reward)
    assert all(got[v.address] == ctx.params.verifier_stake for v in ctx.registrants)
    assert m.tally(ctx.task_id).pool == 0 and m.total_locked() == 0
    _holds_what_it_owes(market)


def test_claim_tasks_take_more_than_the_paper_cap(market: Harness) -> None:
    paper = market.create()
    market.submit(paper, PAPER_SUBMISSIONS)
    extra = market.others[PAPER_SUBMISSIONS]
    market.fails(
        market.market.submit_model(extra, paper.task_id, Cid("bafkreiextra")),
        "submit_model: task is full",
    )
    claim = market.create(aggregation=Aggregation.CLAIM)
    market.submit(claim, PAPER_SUBMISSIONS + 1)
    assert market.market.get_task(claim.task_id).n_submissions == PAPER_SUBMISSIONS + 1


@pytest.mark.parametrize("commit_reveal", [False, True])
def test_each_settlement_reports_through_its_own_entry_point(
    market: Harness, commit_reveal: bool
) -> None:
    """report/reveal (64-wide frames) refuse a claim task; report_claim refuses a paper task."""
    m = market.market
    why = "wrong call for the task's settlement"
    for claim in (True, False):
        agg = Aggregation.CLAIM if claim else Aggregation.MAJORITY
        ctx = market.task(
            n_sub=2, n_reg=1, committee_size=1, aggregation=agg, commit_reveal=commit_reveal
        )
        v = ctx.committee[0]
        wrong = not claim  # the binding's flag, set against the task
        call = "report_claim" if wrong else ("reveal" if commit_reveal else "report")
        if commit_reveal:
            ticket = m.reveal(v, ctx.task_id, 900_000, [1, 2], b"\x01" * 32, wrong)
        else:
            ticket = m.report(v, ctx.task_id, 900_000, [1, 2], wrong)
        market.fails(ticket, f"{call}: {why}", at=ctx.params.commit_deadline)


def test_claim_settlement_needs_the_side_only_agreement_rule(market: Harness) -> None:
    m = market.market
    params = market.params(aggregation=Aggregation.CLAIM, tolerance_ppm=1)
    market.fails(
        m.create_task(market.initiator, Cid("bafkreispec"), params, Wei(10**18)),
        "create_task: claim settlement needs tolerance_ppm 0",
    )


def test_the_claim_rule_is_the_papers_without_truncated_means() -> None:
    """One winning report: the same pay as the paper's, to the wei. Several: pay in
    proportion to the exact means (the sums); the paper truncates each mean to a whole ppm
    first, which moves a share by a relative amount below winners / |mean|."""
    from contracts.settlement import Rules

    committee = [Address(f"0x{i:040x}") for i in range(1, 4)]
    scores = (_scores(9, 0), _scores(9, 1), _scores(9, 2))
    for accs in ((900_000, 100_000, 200_000), (900_000, 850_000, 100_000)):
        reports = {v: Report(a, s) for v, a, s in zip(committee, accs, scores, strict=True)}
        pay = {
            agg: settle(Rules(8000, 2000, aggregation=agg), Wei(10**19 + 7), committee, reports, 9)
            for agg in (Aggregation.MAJORITY, Aggregation.CLAIM)
        }
        paper, claim = pay[Aggregation.MAJORITY], pay[Aggregation.CLAIM]
        winners = sum(1 for a in accs if a >= 800_000)
        if winners == 1:
            assert claim.contributor_pay == paper.contributor_pay
        for c, p in zip(claim.contributor_pay, paper.contributor_pay, strict=True):
            assert abs(c - p) <= 10**19 // 10**4
        total = sum(claim.contributor_pay) + claim.refund
        assert total == sum(paper.contributor_pay) + paper.refund  # the same wei, split apart
