"""The grinding contract (issue 14, finding 3) against the deployed market, and future_seed.

Each trial: a task with 4 honest registrants and 2 accomplices of the attacker, a committee
of 3; the attacker wins when at least 2 accomplices are drawn, which an honest draw gives
with probability C(2,2)·C(4,1)/C(6,3) = 0.2. Without the defence the grinder, retried block
after block, wins every trial; with ``future_seed`` the draw is fixed before anyone can try,
so the grinder wins exactly when that fixed draw favours it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from contracts.attacks import Grinder
from contracts.units import Address

if TYPE_CHECKING:
    from tests.contracts.conftest import Harness, TaskCtx

TRIALS = 20
HONEST_WIN = 0.2
NEED = 2


def _grinder(h: Harness) -> Grinder:
    r = h.ok(Grinder.deploy(h.chain, h.initiator))
    assert r.contract_address is not None
    grinder = Grinder(h.chain, r.contract_address)
    assert grinder.owner() == h.initiator.address
    return grinder


def _task(h: Harness, future_seed: bool = False) -> tuple[TaskCtx, list[Address]]:
    ctx = h.create(future_seed=future_seed)
    h.submit(ctx, 1)
    h.register(ctx, 4)
    accomplices = h.others[20 : 20 + NEED]
    stake = ctx.params.verifier_stake
    h.all_ok([h.market.register_verifier(a, ctx.task_id, stake) for a in accomplices])
    h.seal(ctx.params.submission_deadline - 1)
    return ctx, [a.address for a in accomplices]


def _ours(h: Harness, ctx: TaskCtx, accomplices: list[Address]) -> int:
    return len(set(h.market.committee(ctx.task_id)) & set(accomplices))


def _grind(h: Harness, g: Grinder, ctx: TaskCtx, accomplices: list[Address], tries: int) -> int:
    """Grind until the draw stands or ``tries`` blocks passed; the blocks used (0: lost)."""
    for n in range(1, tries + 1):
        r = h.tx(g.grind(h.initiator, h.market.address, ctx.task_id, accomplices, NEED))
        if r.ok:
            return n
        assert r.revert_reason == "grind: committee not ours"
    return 0


def test_only_the_owner_can_grind(market: Harness) -> None:
    g = _grinder(market)
    ctx, accomplices = _task(market)
    r = market.tx(g.grind(market.outsider, market.market.address, ctx.task_id, accomplices, 1))
    assert r.revert_reason == "grind: only the owner"


def test_grinding_wins_every_trial_without_the_defence(market: Harness) -> None:
    g = _grinder(market)
    blocks = []
    for _ in range(TRIALS):
        ctx, accomplices = _task(market)
        used = _grind(market, g, ctx, accomplices, tries=80)
        assert used > 0, "the grinder never got its committee"
        assert _ours(market, ctx, accomplices) >= NEED
        blocks.append(used)
    # it needed more than one block in most trials: the first draw usually did not suit it
    assert sum(b > 1 for b in blocks) >= TRIALS // 2
    assert max(blocks) > 1 / HONEST_WIN


def test_a_future_seed_leaves_the_grinder_the_honest_odds(market: Harness) -> None:
    g = _grinder(market)
    wins = 0
    for _ in range(TRIALS):
        ctx, accomplices = _task(market, future_seed=True)
        # the owner's own call fixes the seed block (through grind() it would be reverted)
        market.ok(market.market.draw_committee(market.initiator, ctx.task_id))
        market.seal()  # the seed block
        used = _grind(market, g, ctx, accomplices, tries=5)
        if used:
            wins += 1
            assert used == 1  # the fixed draw suits it at once, or never
        else:
            # the draw that stands, sent by anyone, is the one the grinder could not change
            market.ok(market.market.draw_committee(market.outsider, ctx.task_id))
            assert _ours(market, ctx, accomplices) < NEED
    # Binomial(20, 0.2): mean 4; at most 11 wins with probability > 0.999 (grinding, by
    # contrast, wins all 20)
    assert wins <= 11, f"{wins} wins of {TRIALS}"
