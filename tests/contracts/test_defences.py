"""Issue 14: the parameter bounds (finding 5) and each defence switch, off and on.

Every switch off must keep the paper's behaviour (the other contract tests run with all
switches off); each test here shows the attack's opening with the switch off, where that
is a one-liner, and that the switch closes it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pytest
from eth_utils import keccak

from contracts.chain import Chain, ChainConfig
from contracts.errors import TxFailed
from contracts.settlement import Report, settle, settle_undrawn
from contracts.taskmarket import SlashReason, commitment, model_commitment
from contracts.units import ETHER, Address, Cid, Wei
from tests.contracts.conftest import Harness, deploy_market

if TYPE_CHECKING:
    from contracts.chain import Engine

REWARD = Wei(10 * ETHER)

ZERO = Address("0x" + "00" * 20)
SALT = b"\x07" * 32


# ---------------------------------------------------------------- finding 5: bounds


def test_a_huge_stake_is_refused_at_creation(market: Harness) -> None:
    """Finding 5: stake 2**255 made every finalize overflow; now create refuses it."""
    for stake in (2**255, 2**128 + 1):
        market.fails(
            market.market.create_task(
                market.initiator, Cid("s"), market.params(verifier_stake=Wei(stake)), REWARD
            ),
            "create_task: verifier_stake outside [min_stake, 2**128]",
        )


def test_the_largest_stake_settles_after_a_strangers_draw(market: Harness) -> None:
    """The finding's sequence at the bound: nobody registers, a stranger draws an empty
    committee, finalize succeeds and the whole escrow comes back."""
    ctx = market.create(verifier_stake=Wei(2**128), slash_bps=10_000)
    market.submit(ctx, 2)
    market.draw(ctx)
    assert ctx.committee == []
    market.finalize(ctx)
    assert market.market.credit(market.initiator.address) == REWARD
    market.ok(market.market.withdraw(market.initiator))
    assert market.chain.balance(market.market.address) == 0


def test_deadlines_windows_and_tolerance_are_bounded(market: Harness) -> None:
    m, who, now = market.market, market.initiator, market.now()
    year = 365 * 86_400
    cases: list[tuple[dict[str, int], str]] = [
        ({"reveal_deadline": now + 1 + year + 1}, "create_task: beyond the 365-day horizon"),
        ({"report_window_s": year + 1}, "create_task: beyond the 365-day horizon"),
        ({"sealed_window_s": 2**255}, "create_task: beyond the 365-day horizon"),
        ({"tolerance_ppm": 2**255}, "create_task: tolerance_ppm above 1e6"),
        ({"sealed_window_s": 200}, "create_task: draw window empty"),
        ({"min_stake": Wei(ETHER + 1)}, "create_task: verifier_stake outside [min_stake, 2**128]"),
    ]
    tickets = [(m.create_task(who, Cid("s"), market.params(**kw), REWARD), r) for kw, r in cases]
    market.all_fail(tickets, at=now + 1)
    ok = [
        m.create_task(who, Cid("s"), market.params(reveal_deadline=now + 1 + year), REWARD),
        m.create_task(who, Cid("s"), market.params(tolerance_ppm=1_000_000), REWARD),
        m.create_task(who, Cid("s"), market.params(min_stake=Wei(ETHER)), REWARD),
    ]
    market.all_ok(ok)


# ---------------------------------------------------------------- a. report window


def test_a_last_second_draw_leaves_no_time_without_the_window(market: Harness) -> None:
    ctx = market.create()
    market.submit(ctx, 1)
    market.register(ctx, 3)
    market.draw(ctx, at=ctx.params.reveal_deadline - 1)
    v = ctx.committee[0]
    market.fails(
        market.market.report(v, ctx.task_id, 900_000, [1]),
        "report: reveal deadline passed",
        at=ctx.params.reveal_deadline,
    )


def test_the_window_guarantees_reporting_time_after_a_late_draw(market: Harness) -> None:
    w = 50
    ctx = market.create(report_window_s=w)
    market.submit(ctx, 1)
    market.register(ctx, 3)
    at = ctx.params.reveal_deadline - 1
    market.draw(ctx, at=at)
    assert market.market.get_task(ctx.task_id).drawn_at == at
    m = market.market
    market.fails(m.finalize(market.outsider, ctx.task_id), "finalize: reveal deadline not reached")
    tickets = [m.report(v, ctx.task_id, 900_000, [1]) for v in ctx.committee]
    market.all_ok(tickets, at=at + w - 2)
    market.fails(
        m.finalize(market.outsider, ctx.task_id),
        "finalize: reveal deadline not reached",
        at=at + w - 1,
    )
    r = market.finalize(ctx, at=at + w)
    assert market.events(r, "TaskFinalized")[0].n_agreeing == 3


def test_the_window_doubles_for_commit_reveal(market: Harness) -> None:
    w = 40
    ctx = market.create(report_window_s=w, commit_reveal=True)
    market.submit(ctx, 1)
    market.register(ctx, 1)
    at = ctx.params.commit_deadline - 1
    market.draw(ctx, at=at)
    m, (v,) = market.market, ctx.committee
    digest = keccak(b"x")
    market.ok(m.commit(v, ctx.task_id, digest), at=at + w - 1)
    market.fails(
        m.reveal(v, ctx.task_id, 1, [1], SALT), "reveal: does not match commitment", at=at + w
    )
    market.fails(
        m.reveal(v, ctx.task_id, 1, [1], SALT), "reveal: reveal deadline passed", at=at + 2 * w
    )


# ---------------------------------------------------------------- b. future seed


def test_the_future_seed_draws_from_a_block_fixed_before_it_was_known(market: Harness) -> None:
    ctx = market.create(future_seed=True)
    market.submit(ctx, 1)
    market.register(ctx, 6)
    m = market.market
    r = market.ok(m.draw_committee(market.outsider, ctx.task_id), at=ctx.params.submission_deadline)
    (req,) = market.events(r, "SeedRequested")
    assert req.seed_block == r.block_number + 1
    assert not m.get_task(ctx.task_id).drawn
    b = market.seal()  # the seed block: its hash is now fixed, not before
    assert b.number == req.seed_block
    r = market.ok(m.draw_committee(market.outsider, ctx.task_id))
    (drawn,) = market.events(r, "CommitteeDrawn")
    seed = keccak(bytes.fromhex(b.hash.removeprefix("0x")) + ctx.task_id.to_bytes(32, "big"))
    assert drawn.seed == seed
    pool, rr = [a.address for a in ctx.registrants], seed
    for i in range(3):
        j = i + int.from_bytes(rr, "big") % (len(pool) - i)
        pool[i], pool[j] = pool[j], pool[i]
        rr = keccak(rr)
    assert list(drawn.members) == pool[:3]


def test_the_seed_block_must_be_sealed_before_the_draw(market: Harness) -> None:
    ctx = market.create(future_seed=True)
    market.register(ctx, 2)
    m = market.market
    first = m.draw_committee(market.outsider, ctx.task_id)
    second = m.draw_committee(market.others[0], ctx.task_id)
    block = market.seal(ctx.params.submission_deadline)
    by = {r.ticket: r for r in block.receipts}
    assert by[first].ok
    assert by[second].revert_reason == "draw_committee: seed block not sealed yet"
    market.fails(
        m.draw_committee(market.outsider, ctx.task_id), "draw_committee: seed block not sealed yet"
    )
    market.ok(m.draw_committee(market.outsider, ctx.task_id))
    assert m.get_task(ctx.task_id).drawn


# ---------------------------------------------------------------- c. no cancel


def test_cancel_after_a_submission_only_when_the_switch_is_off(market: Harness) -> None:
    m = market.market
    off = market.create()
    market.submit(off, 1)
    market.ok(m.cancel(market.initiator, off.task_id))
    on = market.create(no_cancel_after_submission=True)
    market.ok(m.cancel(market.initiator, market.create(no_cancel_after_submission=True).task_id))
    market.submit(on, 1)
    market.fails(m.cancel(market.initiator, on.task_id), "cancel: a model was submitted")


# ---------------------------------------------------------------- d. sealed submissions


def test_sealed_submissions_hide_cids_until_the_deadline(market: Harness) -> None:
    m = market.market
    ctx = market.create(sealed_window_s=30)
    a, b = market.others[0], market.others[1]
    market.fails(
        m.submit_model(a, ctx.task_id, Cid("x")), "submit_model: this task takes sealed submissions"
    )
    ca = model_commitment(ctx.task_id, a.address, "bafkA", SALT)
    market.all_ok([m.commit_model(a, ctx.task_id, ca)])
    market.fails(m.commit_model(a, ctx.task_id, ca), "submit_model: already submitted")
    assert m.submissions(ctx.task_id) == []
    assert m.get_task(ctx.task_id).n_entrants == 1
    market.fails(
        m.reveal_model(a, ctx.task_id, Cid("bafkA"), SALT), "reveal_model: submissions still open"
    )
    sd = ctx.params.submission_deadline
    market.fails(
        m.commit_model(b, ctx.task_id, ca), "submit_model: submission deadline passed", at=sd
    )
    market.fails(m.cancel(market.initiator, ctx.task_id), "cancel: submission deadline passed")
    # the reveal is bound to its sender: b cannot publish a's commitment
    market.fails(m.reveal_model(b, ctx.task_id, Cid("bafkA"), SALT), "reveal_model: no commitment")
    market.fails(
        m.reveal_model(a, ctx.task_id, Cid("bafkB"), SALT),
        "reveal_model: does not match commitment",
    )
    market.fails(
        m.draw_committee(market.outsider, ctx.task_id), "draw_committee: submissions still open"
    )
    r = market.ok(m.reveal_model(a, ctx.task_id, Cid("bafkA"), SALT))
    assert [e.cid for e in market.events(r, "ModelSubmitted")] == ["bafkA"]
    market.fails(m.reveal_model(a, ctx.task_id, Cid("bafkA"), SALT), "reveal_model: no commitment")
    market.fails(
        m.reveal_model(a, ctx.task_id, Cid("bafkA"), SALT),
        "reveal_model: reveal window closed",
        at=sd + 30,
    )


def test_sealed_access_opens_to_all_only_after_payment(market: Harness) -> None:
    m = market.market
    ctx = market.create(sealed_window_s=10)
    a = market.others[0]
    market.all_ok(
        [m.commit_model(a, ctx.task_id, model_commitment(ctx.task_id, a.address, "bafkA", SALT))]
    )
    market.register(ctx, 3)
    market.ok(m.reveal_model(a, ctx.task_id, Cid("bafkA"), SALT), at=ctx.params.submission_deadline)
    ctx.contributors.append(a)
    market.draw(ctx, at=ctx.params.draw_opens())
    with pytest.raises(TxFailed, match="accepted_cids: task not paid"):
        m.accepted_cids(ctx.task_id, market.outsider.address)
    market.fails(m.claim_access(market.initiator, ctx.task_id), "claim_access: task not paid")
    market.report(ctx, {v.address: Report(900_000, (5,)) for v in ctx.committee})
    market.finalize(ctx)
    assert m.accepted_cids(ctx.task_id, market.outsider.address) == ["bafkA"]
    market.fails(m.claim_access(market.outsider, ctx.task_id), "claim_access: only the initiator")
    r = market.ok(m.claim_access(market.initiator, ctx.task_id))
    (ev,) = market.events(r, "AccessClaimed")
    assert ev.initiator == market.initiator.address


# ---------------------------------------------------------------- e. roles and stake


def test_exclusive_roles(market: Harness) -> None:
    m = market.market
    off = market.create()
    on = market.create(exclusive_roles=True)
    x, y = market.others[0], market.others[1]
    stake = off.params.verifier_stake
    market.all_ok(
        [m.submit_model(x, off.task_id, Cid("c")), m.register_verifier(y, off.task_id, stake)]
    )
    market.all_ok(
        [m.register_verifier(x, off.task_id, stake), m.submit_model(y, off.task_id, Cid("d"))]
    )
    market.all_ok(
        [m.submit_model(x, on.task_id, Cid("c")), m.register_verifier(y, on.task_id, stake)]
    )
    market.all_fail(
        [
            (
                m.register_verifier(x, on.task_id, stake),
                "register_verifier: contributor cannot verify",
            ),
            (m.submit_model(y, on.task_id, Cid("d")), "submit_model: verifier cannot contribute"),
        ]
    )


# ---------------------------------------------------------------- f. burn orphan slashes


def test_absent_members_slashes_go_to_the_initiator_only_when_off(market: Harness) -> None:
    for burn in (False, True):
        ctx = market.task(n_sub=1, n_reg=5, slash_bps=10_000, burn_orphan_slashes=burn)
        before = market.market.credit(market.initiator.address)
        zero_before = market.chain.balance(ZERO)
        r = market.finalize(ctx)
        got = market.market.credit(market.initiator.address) - before
        s = settle(ctx.params.rules(), ctx.reward, [v.address for v in ctx.committee], {}, 1)
        assert got == s.refund
        slashed = 3 * ctx.params.verifier_stake
        if burn:
            assert got == REWARD and s.burned == slashed
            assert [e.amount for e in market.events(r, "StakeBurned")] == [slashed]
            assert market.chain.balance(ZERO) - zero_before == slashed
        else:
            assert got == REWARD + slashed and s.burned == 0
            assert market.events(r, "StakeBurned") == []


# ---------------------------------------------------------------- g. unrevealed slash


@pytest.mark.parametrize("unrevealed_bps", [0, 10_000])
def test_withholding_a_committed_report_costs_more_than_dissent_only_when_on(
    market: Harness, unrevealed_bps: int
) -> None:
    """Finding 6: a member that committed an approval and withheld it, against one that
    revealed it, beside two revealed rejections (slash_bps 5000)."""
    reject, approve = Report(100_000, (0,)), Report(900_000, (1_000_000,))
    kept: dict[bool, int] = {}
    for withhold in (False, True):
        ctx = market.task(n_sub=1, n_reg=3, commit_reveal=True, unrevealed_slash_bps=unrevealed_bps)
        a, b, c = ctx.committee
        reports = {a.address: reject, b.address: reject}
        if withhold:
            digest = commitment(ctx.task_id, c.address, 900_000, (1_000_000,), SALT)
            market.ok(market.market.commit(c, ctx.task_id, digest))
        else:
            reports[c.address] = approve
        market.report(ctx, reports)
        before = market.market.credit(c.address)
        r = market.finalize(ctx)
        kept[withhold] = market.market.credit(c.address) - before
        (slash,) = [e for e in market.events(r, "VerifierSlashed") if e.verifier == c.address]
        assert slash.reason == (SlashReason.ABSENT if withhold else SlashReason.DISAGREE)
        members = [v.address for v in ctx.committee]
        s = settle(ctx.params.rules(), ctx.reward, members, reports, 1)
        assert kept[withhold] == s.stake_returned.get(c.address, 0)
        assert slash.amount == s.slashed[c.address]
    stake = ETHER
    assert kept[False] == stake // 2  # a revealed dissent: slash_bps
    assert kept[True] == (stake // 2 if unrevealed_bps == 0 else 0)


def test_an_unrevealed_slash_above_10000_bps_is_refused(market: Harness) -> None:
    m = market.market
    params = market.params(unrevealed_slash_bps=10_001)
    market.fails(
        m.create_task(market.initiator, Cid("s"), params, REWARD),
        "create_task: slash_bps above 10000",
    )


# ---------------------------------------------------------------- h. undrawn task pays


def test_an_undrawn_task_pays_its_contributors_only_when_on(market: Harness) -> None:
    """free_access: nobody draws; with the switch the escrow goes to the contributors."""
    for on in (False, True):
        for n_sub in (0, 3):
            ctx = market.create(undrawn_pays_contributors=on)
            market.submit(ctx, n_sub)
            market.register(ctx, 2)
            before = market.credits()
            r = market.finalize(ctx)
            got = {a: market.market.credit(a) - x for a, x in before.items()}
            pay, refund = settle_undrawn(ctx.params.rules(), ctx.reward, n_sub)
            assert [got[c.address] for c in ctx.contributors] == list(pay)
            assert got[market.initiator.address] == refund
            assert all(got[v.address] == ctx.params.verifier_stake for v in ctx.registrants)
            paid = market.events(r, "ContributorPaid")
            if on and n_sub:
                assert refund == REWARD % 3 and sum(pay) == REWARD - REWARD % 3
                assert [e.amount for e in paid] == [REWARD // 3] * 3
            else:
                assert refund == REWARD and paid == []
            task = market.market.get_task(ctx.task_id)
            assert task.finalized and not task.accepted


# ---------------------------------------------------------------- i. stale future seed


def _harness(engine: Engine) -> Harness:
    chain = Chain(ChainConfig(engine=engine), np.random.default_rng(7), [Wei(100 * ETHER)] * 8)
    accounts = list(chain.genesis_accounts)
    return Harness(chain, deploy_market(chain, accounts[1]), accounts)


@pytest.mark.parametrize("engine", ["py-evm", "revm"])
def test_a_seed_out_of_blockhash_reach_is_requested_again_never_before(engine: Engine) -> None:
    """BLOCKHASH sees 256 blocks back: a draw up to seed_block + 256 uses the requested
    seed (no re-request to grind with), one later records a new seed block (it used to
    revert, and the draw was lost for good)."""
    h = _harness(engine)
    now = h.now()
    ctx = h.create(future_seed=True, commit_deadline=now + 2000, reveal_deadline=now + 2100)
    h.register(ctx, 4)
    m = h.market
    r = h.ok(m.draw_committee(h.outsider, ctx.task_id), at=ctx.params.submission_deadline)
    (req,) = h.events(r, "SeedRequested")
    while h.chain.head_number < req.seed_block + 255:
        h.seal()
    with h.chain.snapshot():  # the last block that can still see seed_block: it draws
        r = h.ok(m.draw_committee(h.outsider, ctx.task_id))
        assert r.block_number == req.seed_block + 256
        assert h.events(r, "SeedRequested") == [] and len(h.events(r, "CommitteeDrawn")) == 1
    h.seal()
    r = h.ok(m.draw_committee(h.outsider, ctx.task_id))
    assert r.block_number == req.seed_block + 257
    (again,) = h.events(r, "SeedRequested")
    assert again.seed_block == r.block_number + 1 and h.events(r, "CommitteeDrawn") == []
    task = m.get_task(ctx.task_id)
    assert not task.drawn and task.seed_block == again.seed_block
    h.fails(m.draw_committee(h.outsider, ctx.task_id), "draw_committee: seed block not sealed yet")
    r = h.ok(m.draw_committee(h.outsider, ctx.task_id))
    (drawn,) = h.events(r, "CommitteeDrawn")
    assert len(drawn.members) == 3 and m.get_task(ctx.task_id).drawn
