"""The task's phases: submissions, registration, cancel, committee draw, reports, commit-reveal.

Each deadline is checked at the last second before it and at the deadline itself.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import eth_abi
import pytest
from eth_utils import keccak

from contracts.taskmarket import commitment
from contracts.units import ETHER, MAX_REGISTRANTS, Address, Cid, Wei

if TYPE_CHECKING:
    from tests.contracts.conftest import Harness, TaskCtx

SALT = b"\x07" * 32

# ---------------------------------------------------------------- submissions


def test_submissions_close_at_the_submission_deadline(market: Harness) -> None:
    m, ctx = market.market, market.create()
    a, b, c = market.others[:3]
    deadline = ctx.params.submission_deadline
    r = market.ok(m.submit_model(a, ctx.task_id, Cid("bafkA")), at=deadline - 1)
    (event,) = market.events(r, "ModelSubmitted")
    assert (event.contributor, event.index, event.cid) == (a.address, 0, "bafkA")
    reason = "submit_model: submission deadline passed"
    market.fails(m.submit_model(b, ctx.task_id, Cid("bafkB")), reason, at=deadline)
    market.fails(m.submit_model(c, ctx.task_id, Cid("bafkC")), reason, at=deadline + 50)
    assert [s.contributor for s in m.submissions(ctx.task_id)] == [a.address]


def test_submission_rules(market: Harness) -> None:
    m, ctx = market.market, market.create()
    a = market.others[0]
    market.fails(
        m.submit_model(market.initiator, ctx.task_id, Cid("bafk")),
        "submit_model: initiator cannot contribute to its own task",
    )
    market.fails(m.submit_model(a, ctx.task_id, Cid("")), "submit_model: empty cid")
    market.ok(m.submit_model(a, ctx.task_id, Cid("bafk1")))
    market.fails(m.submit_model(a, ctx.task_id, Cid("bafk2")), "submit_model: already submitted")
    assert m.get_task(ctx.task_id).n_submissions == 1


def test_duplicate_cids_are_recorded_not_rejected(market: Harness) -> None:
    m, ctx = market.market, market.create()
    a, b, c, d = market.others[:4]
    market.ok(m.submit_model(a, ctx.task_id, Cid("bafkSAME")))
    market.ok(m.submit_model(b, ctx.task_id, Cid("bafkOTHER")))
    r_c = market.ok(m.submit_model(c, ctx.task_id, Cid("bafkSAME")))
    r_d = market.ok(m.submit_model(d, ctx.task_id, Cid("bafkSAME")))
    for r, who, index in ((r_c, c, 2), (r_d, d, 3)):
        (dup,) = market.events(r, "DuplicateSubmission")
        assert (dup.contributor, dup.index, dup.first_index) == (who.address, index, 0)
        assert market.events(r, "ModelSubmitted")[0].index == index
    assert [s.cid for s in m.submissions(ctx.task_id)] == ["bafkSAME", "bafkOTHER"] + [
        "bafkSAME"
    ] * 2
    # the same CID in another task is that task's first
    other = market.create()
    r = market.ok(m.submit_model(a, other.task_id, Cid("bafkSAME")))
    assert market.events(r, "DuplicateSubmission") == []


def test_a_task_holds_at_most_64_submissions(market: Harness) -> None:
    ctx = market.create()
    market.submit(ctx, 64)
    late = market.others[64]
    market.fails(
        market.market.submit_model(late, ctx.task_id, Cid("bafk65")), "submit_model: task is full"
    )


# ---------------------------------------------------------------- registration


def test_registration_closes_at_the_submission_deadline(market: Harness) -> None:
    m, ctx = market.market, market.create()
    v1, v2 = market.others[-2:]
    deadline, stake = ctx.params.submission_deadline, ctx.params.verifier_stake
    locked = m.total_locked()
    r = market.ok(m.register_verifier(v1, ctx.task_id, stake), at=deadline - 1)
    (event,) = market.events(r, "VerifierRegistered")
    assert (event.verifier, event.stake) == (v1.address, stake)
    market.fails(
        m.register_verifier(v2, ctx.task_id, stake),
        "register_verifier: registration closed",
        at=deadline,
    )
    assert m.registrants(ctx.task_id) == [v1.address]
    assert m.total_locked() == locked + stake


def test_registration_rules_and_the_exact_stake(market: Harness) -> None:
    m, ctx = market.market, market.create()
    v = market.others[-1]
    stake = ctx.params.verifier_stake
    market.fails(
        m.register_verifier(market.initiator, ctx.task_id, stake),
        "register_verifier: initiator cannot verify its own task",
    )
    before = market.chain.balance(v.address)
    fees = 0
    for wrong in (stake - 1, stake + 1, 0):
        r = market.fails(
            m.register_verifier(v, ctx.task_id, Wei(wrong)),
            "register_verifier: value must equal the task's verifier stake",
        )
        fees += r.fee
    assert market.chain.balance(v.address) == before - fees  # the value came back
    market.ok(m.register_verifier(v, ctx.task_id, stake))
    market.fails(
        m.register_verifier(v, ctx.task_id, stake), "register_verifier: already registered"
    )


def test_zero_stake_tasks_register_without_value(market: Harness) -> None:
    ctx = market.create(verifier_stake=Wei(0))
    market.register(ctx, 2)
    assert market.market.get_task(ctx.task_id).n_registered == 2


def test_the_registrant_pool_holds_at_most_max_registrants(market: Harness) -> None:
    ctx = market.create(verifier_stake=Wei(0))
    market.register(ctx, MAX_REGISTRANTS)
    market.fails(
        market.market.register_verifier(market.others[0], ctx.task_id, Wei(0)),
        "register_verifier: registrant pool is full",
    )


# ---------------------------------------------------------------- cancel


def test_only_the_initiator_cancels(market: Harness) -> None:
    ctx = market.create()
    market.register(ctx, 1)
    for who in (market.outsider, ctx.registrants[0]):
        market.fails(
            market.market.cancel(who, ctx.task_id), "cancel: only the initiator can cancel"
        )


def test_cancel_before_the_deadline_refunds_escrow_and_stakes(market: Harness) -> None:
    m = market.market
    ctx = market.create()
    market.submit(ctx, 2)
    market.register(ctx, 3)
    locked = m.total_locked()
    r = market.ok(m.cancel(market.initiator, ctx.task_id), at=ctx.params.submission_deadline - 1)
    (refund,) = market.events(r, "Refunded")
    assert (refund.initiator, refund.amount) == (market.initiator.address, ctx.reward)
    returned = {e.verifier: e.amount for e in market.events(r, "StakeReturned")}
    assert returned == {v.address: ETHER for v in ctx.registrants}
    assert len(market.events(r, "TaskCancelled")) == 1
    assert m.total_locked() == locked - ctx.reward - 3 * ETHER
    assert m.credit(market.initiator.address) == ctx.reward
    assert m.get_task(ctx.task_id).cancelled
    tid, v = ctx.task_id, market.others[10]
    market.all_fail(
        [
            (m.submit_model(v, tid, Cid("bafk")), "submit_model: task cancelled"),
            (m.register_verifier(v, tid, ETHER), "register_verifier: task cancelled"),
            (m.cancel(market.initiator, tid), "cancel: task cancelled"),
        ]
    )
    market.all_fail(
        [
            (m.draw_committee(v, tid), "draw_committee: task cancelled"),
            (m.finalize(v, tid), "finalize: task cancelled"),
        ],
        at=ctx.params.reveal_deadline,
    )


def test_cancel_at_the_deadline_is_too_late(market: Harness) -> None:
    ctx = market.create()
    market.fails(
        market.market.cancel(market.initiator, ctx.task_id),
        "cancel: submission deadline passed",
        at=ctx.params.submission_deadline,
    )


# ---------------------------------------------------------------- committee draw


def _expected_committee(
    prevrandao: bytes, task_id: int, pool: list[Address], k: int
) -> tuple[bytes, list[Address]]:
    """The contract's partial Fisher-Yates over the registrants, in Python."""
    seed = keccak(prevrandao + task_id.to_bytes(32, "big"))
    pool, r = list(pool), seed
    for i in range(min(k, len(pool))):
        j = i + int.from_bytes(r, "big") % (len(pool) - i)
        pool[i], pool[j] = pool[j], pool[i]
        r = keccak(r)
    return seed, pool[: min(k, len(pool))]


def test_draw_waits_for_the_submission_deadline(market: Harness) -> None:
    ctx = market.create()
    market.register(ctx, 2)
    m, deadline = market.market, ctx.params.submission_deadline
    market.fails(
        m.draw_committee(market.outsider, ctx.task_id),
        "draw_committee: submissions still open",
        at=deadline - 1,
    )
    market.draw(ctx, at=deadline)
    market.fails(m.draw_committee(market.outsider, ctx.task_id), "draw_committee: already drawn")


@pytest.mark.parametrize("commit_reveal", [False, True])
def test_draw_closes_with_the_reporting_window(market: Harness, commit_reveal: bool) -> None:
    ctx = market.create(commit_reveal=commit_reveal)
    market.register(ctx, 2)
    p = ctx.params
    closes = p.commit_deadline if commit_reveal else p.reveal_deadline
    with market.chain.snapshot():
        market.draw(ctx, at=closes - 1)
    market.fails(
        market.market.draw_committee(market.outsider, ctx.task_id),
        "draw_committee: reporting window closed",
        at=closes,
    )


@pytest.mark.parametrize(("k", "n"), [(3, 5), (5, 2), (3, 3), (2, 0), (32, 40)])
def test_committee_is_min_k_registrants_and_the_rest_get_their_stake_back(
    market: Harness, k: int, n: int
) -> None:
    m = market.market
    ctx = market.create(committee_size=k)
    market.register(ctx, n)
    locked = m.total_locked()
    prevrandao = bytes(range(32))
    market.draw(ctx, prevrandao=prevrandao)
    members = [v.address for v in ctx.committee]
    seed, expected = _expected_committee(
        prevrandao, ctx.task_id, [v.address for v in ctx.registrants], k
    )
    assert members == expected and len(members) == min(k, n)
    assert len(set(members)) == len(members)
    assert set(members) <= {v.address for v in ctx.registrants}
    assert ctx.draw_receipt is not None
    (drawn,) = market.events(ctx.draw_receipt, "CommitteeDrawn")
    assert drawn.seed == seed
    assert m.committee(ctx.task_id) == members
    returned = {e.verifier: e.amount for e in market.events(ctx.draw_receipt, "StakeReturned")}
    outside = {v.address for v in ctx.registrants} - set(members)
    assert returned == dict.fromkeys(outside, ETHER)
    assert all(m.credit(a) == ETHER for a in outside)
    assert all(m.credit(a) == 0 for a in members)
    assert m.total_locked() == locked - len(outside) * ETHER
    assert m.get_task(ctx.task_id).drawn


def test_the_draw_is_fixed_by_prevrandao_and_varies_with_it(market: Harness) -> None:
    ctx = market.create(committee_size=3)
    market.register(ctx, 10)
    pool = [v.address for v in ctx.registrants]
    committees = []
    for i in range(6):
        prevrandao = keccak(bytes([i]))
        for _ in range(2):  # the same prevrandao twice gives the same committee
            with market.chain.snapshot():
                market.draw(ctx, prevrandao=prevrandao)
                got = [v.address for v in ctx.committee]
                assert got == _expected_committee(prevrandao, ctx.task_id, pool, 3)[1]
                committees.append(tuple(got))
    assert committees[0::2] == committees[1::2]
    assert len(set(committees)) >= 4


# ---------------------------------------------------------------- plain reports


def _plain(market: Harness, n_sub: int = 2, **kw: Any) -> TaskCtx:
    return market.task(n_sub=n_sub, n_reg=5, **kw)


def test_reports_come_from_members_of_a_drawn_committee(market: Harness) -> None:
    m = market.market
    ctx = market.create()
    market.submit(ctx, 2)
    market.register(ctx, 5)
    early = ctx.registrants[0]
    market.fails(m.report(early, ctx.task_id, 900_000, [1, 1]), "report: committee not drawn")
    market.fails(
        m.report(early, ctx.task_id, 900_000, [1, 1]),
        "report: committee not drawn",
        at=ctx.params.submission_deadline,
    )
    market.draw(ctx, at=ctx.params.submission_deadline + 1)
    outsiders = [v for v in ctx.registrants if v not in ctx.committee] + [
        market.outsider,
        market.initiator,
        ctx.contributors[0],
    ]
    for who in outsiders:
        market.fails(m.report(who, ctx.task_id, 900_000, [1, 1]), "report: not a committee member")


def test_report_rules(market: Harness) -> None:
    m = market.market
    ctx = _plain(market, n_sub=2)
    v, w = ctx.committee[:2]
    tid = ctx.task_id
    bad = [
        ([1], 900_000, "report: one score per submitted model needed"),
        ([1, 2, 3], 900_000, "report: one score per submitted model needed"),
        ([1, 2], 1_000_001, "report: accuracy above 1e6 ppm"),
        ([1_000_001, 0], 900_000, "report: score outside [-1e6, 1e6] ppm"),
        ([0, -1_000_001], 900_000, "report: score outside [-1e6, 1e6] ppm"),
    ]
    for scores, acc, reason in bad:
        market.fails(m.report(v, tid, acc, scores), reason)
    r = market.ok(m.report(v, tid, 1_000_000, [1_000_000, -1_000_000]))
    (event,) = market.events(r, "ReportRevealed")
    assert (event.verifier, event.accuracy_ppm, event.scores_ppm) == (
        v.address,
        1_000_000,
        (1_000_000, -1_000_000),
    )
    assert m.get_report(tid, v.address) == (True, 1_000_000, [1_000_000, -1_000_000])
    assert m.get_report(tid, w.address) == (False, 0, [])
    market.fails(m.report(v, tid, 1, [0, 0]), "report: already reported")
    assert m.get_task(tid).n_revealed == 1


def test_reports_close_at_the_reveal_deadline(market: Harness) -> None:
    m = market.market
    ctx = _plain(market)
    v, w = ctx.committee[:2]
    deadline = ctx.params.reveal_deadline
    market.ok(m.report(v, ctx.task_id, 1, [0, 0]), at=deadline - 1)
    market.fails(m.report(w, ctx.task_id, 1, [0, 0]), "report: reveal deadline passed", at=deadline)


def test_plain_and_commit_reveal_calls_do_not_mix(market: Harness) -> None:
    m = market.market
    plain = _plain(market)
    cr = _plain(market, commit_reveal=True)
    v = plain.committee[0]
    market.fails(
        m.commit(v, plain.task_id, b"\x01" * 32), "commit: this task does not use commit-reveal"
    )
    market.fails(
        m.reveal(v, plain.task_id, 1, [0, 0], SALT), "reveal: this task does not use commit-reveal"
    )
    market.fails(
        m.report(cr.committee[0], cr.task_id, 1, [0, 0]), "report: this task uses commit-reveal"
    )


# ---------------------------------------------------------------- commit-reveal


def _commit(market: Harness, ctx: TaskCtx, who: int, acc: int, scores: list[int]) -> bytes:
    v = ctx.committee[who]
    digest = commitment(ctx.task_id, v.address, acc, scores, SALT)
    market.ok(market.market.commit(v, ctx.task_id, digest))
    return digest


def test_commitment_matches_the_contracts_encoding() -> None:
    who = Address("0x" + "12" * 20)
    encoded = eth_abi.encode(
        ["uint256", "address", "uint256", "int256[]", "bytes32"], [3, who, 5, [-1, 2], SALT]
    )
    assert commitment(3, who, 5, [-1, 2], SALT) == keccak(encoded)


def test_commit_rules(market: Harness) -> None:
    m = market.market
    ctx = market.create(commit_reveal=True)
    market.submit(ctx, 2)
    market.register(ctx, 5)
    digest = b"\x05" * 32
    market.fails(m.commit(ctx.registrants[0], ctx.task_id, digest), "commit: committee not drawn")
    market.draw(ctx)
    v, w = ctx.committee[:2]
    nonmember = next(x for x in ctx.registrants if x not in ctx.committee)
    market.fails(m.commit(nonmember, ctx.task_id, digest), "commit: not a committee member")
    market.fails(m.commit(v, ctx.task_id, b"\x00" * 32), "commit: empty commitment")
    deadline = ctx.params.commit_deadline
    r = market.ok(m.commit(v, ctx.task_id, digest), at=deadline - 1)
    (event,) = market.events(r, "ReportCommitted")
    assert (event.verifier, event.commitment) == (v.address, digest)
    market.fails(m.commit(w, ctx.task_id, digest), "commit: commit deadline passed", at=deadline)
    market.fails(m.commit(v, ctx.task_id, digest), "commit: commit deadline passed")


def test_double_commit_is_rejected(market: Harness) -> None:
    ctx = _plain(market, commit_reveal=True)
    _commit(market, ctx, 0, 900_000, [1, 2])
    market.fails(
        market.market.commit(ctx.committee[0], ctx.task_id, b"\x09" * 32),
        "commit: already committed",
    )


def test_reveal_opens_at_the_commit_deadline_and_closes_at_the_reveal_deadline(
    market: Harness,
) -> None:
    m = market.market
    ctx = _plain(market, commit_reveal=True)
    v, w = ctx.committee[:2]
    _commit(market, ctx, 0, 900_000, [1, 2])
    _commit(market, ctx, 1, 800_000, [3, 4])
    p = ctx.params
    market.fails(
        m.reveal(v, ctx.task_id, 900_000, [1, 2], SALT),
        "reveal: commit phase still open",
        at=p.commit_deadline - 1,
    )
    r = market.ok(m.reveal(v, ctx.task_id, 900_000, [1, 2], SALT), at=p.commit_deadline)
    assert market.events(r, "ReportRevealed")[0].scores_ppm == (1, 2)
    with market.chain.snapshot():
        market.ok(m.reveal(w, ctx.task_id, 800_000, [3, 4], SALT), at=p.reveal_deadline - 1)
    market.fails(
        m.reveal(w, ctx.task_id, 800_000, [3, 4], SALT),
        "reveal: reveal deadline passed",
        at=p.reveal_deadline,
    )


def test_reveal_must_match_its_own_commitment(market: Harness) -> None:
    m = market.market
    ctx = _plain(market, commit_reveal=True)
    v, w, x = ctx.committee
    nonmember = next(a for a in ctx.registrants if a not in ctx.committee)
    digest = _commit(market, ctx, 0, 900_000, [1, 2])
    # w copies v's commitment hash: v's values and salt do not open it for w
    market.ok(m.commit(w, ctx.task_id, digest))
    at = ctx.params.commit_deadline
    tid = ctx.task_id
    cases = [
        (m.reveal(v, tid, 900_000, [1, 2], b"\x08" * 32), "reveal: does not match commitment"),
        (m.reveal(v, tid, 900_001, [1, 2], SALT), "reveal: does not match commitment"),
        (m.reveal(v, tid, 900_000, [2, 1], SALT), "reveal: does not match commitment"),
        (m.reveal(w, tid, 900_000, [1, 2], SALT), "reveal: does not match commitment"),
        (m.reveal(x, tid, 900_000, [1, 2], SALT), "reveal: no commitment"),
        (m.reveal(nonmember, tid, 900_000, [1, 2], SALT), "reveal: no commitment"),
    ]
    market.all_fail(cases, at=at)
    market.ok(m.reveal(v, tid, 900_000, [1, 2], SALT))
    market.fails(m.reveal(v, tid, 900_000, [1, 2], SALT), "reveal: already reported")
    assert m.get_task(tid).n_revealed == 1


def test_revealed_values_are_range_checked(market: Harness) -> None:
    m = market.market
    ctx = _plain(market, commit_reveal=True)
    _commit(market, ctx, 0, 1_000_001, [1, 2])
    _commit(market, ctx, 1, 900_000, [1])
    v, w = ctx.committee[:2]
    at = ctx.params.commit_deadline
    market.fails(
        m.reveal(v, ctx.task_id, 1_000_001, [1, 2], SALT), "reveal: accuracy above 1e6 ppm", at=at
    )
    market.fails(
        m.reveal(w, ctx.task_id, 900_000, [1], SALT),
        "reveal: one score per submitted model needed",
    )
