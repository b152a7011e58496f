"""Contract accounts as market participants: one re-enters, one refuses ether.

``actors/Actor.vy`` is compiled here (no committed artifact) and deployed on the test
chain. It registers as a verifier, is credited at finalize and pulls its credit; its
fallback then re-enters ``withdraw``, re-enters ``finalize`` of another task, or refuses
the payment. In every case the market's sums must hold (balance = locked + credited),
nobody is paid twice, a refused or re-entered payout leaves the credit owed, and once
everything is withdrawn the market holds 0 wei.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from contracts.chain import Account, ContractAbi, Receipt
from contracts.units import Address, Wei

if TYPE_CHECKING:
    from tests.contracts.conftest import Harness, TaskCtx

ACTOR_SOURCE = Path(__file__).resolve().parent / "actors" / "Actor.vy"
ACCEPT, REENTER_WITHDRAW, REENTER_FINALIZE, REFUSE = 0, 1, 2, 3


@cache
def _compiled() -> tuple[ContractAbi, bytes]:
    import vyper

    out = vyper.compile_code(ACTOR_SOURCE.read_text(), output_formats=["abi", "bytecode"])
    return ContractAbi(tuple(out["abi"]), "Actor"), bytes.fromhex(out["bytecode"][2:])


class Actor:
    """A deployed Actor, driven by an EOA owner."""

    def __init__(self, h: Harness, owner: Account, mode: int):
        self.h, self.owner = h, owner
        self.abi, code = _compiled()
        init = code + self.abi.encode_constructor([h.market.address, mode])
        ticket = h.chain.send(owner, None, init, gas=3_000_000, label="deploy Actor")
        receipt = h.ok(ticket)
        assert receipt.contract_address is not None
        self.address: Address = receipt.contract_address
        h.chain.register_abi(self.address, self.abi)

    def send(self, fn: str, *args: Any, value: int = 0) -> int:
        data = self.abi.encode_call(fn, list(args))
        ticket: int = self.h.chain.send(
            self.owner, self.address, data, value=value, gas=3_000_000, label=f"Actor.{fn}"
        )
        return ticket

    def view(self, fn: str) -> Any:
        out = self.h.chain.call(self.address, self.abi.encode_call(fn, []), label=f"Actor.{fn}")
        return self.abi.function(fn).decode_output(out)


def _sums_hold(h: Harness) -> None:
    m = h.market
    assert h.chain.balance(m.address) == m.total_locked() + m.total_credit()


def _task_with_actor(h: Harness, actor: Actor) -> TaskCtx:
    """Actor and two EOAs make the whole committee; nobody reports; finalized: each keeps
    half its stake."""
    ctx = h.create(committee_size=3, slash_bps=5_000)
    h.submit(ctx, 1)
    stake = ctx.params.verifier_stake
    h.ok(actor.send("register", ctx.task_id, value=stake))
    h.register(ctx, 2)
    r = h.ok(h.market.draw_committee(h.outsider, ctx.task_id), ctx.params.submission_deadline)
    (drawn,) = r.events_named("CommitteeDrawn")
    assert actor.address in drawn["members"]
    h.finalize(ctx)
    assert h.market.credit(actor.address) == stake // 2
    return ctx


def _ready_task(h: Harness) -> TaskCtx:
    """A task past its reveal deadline, waiting for anyone's finalize."""
    ctx = h.create()
    h.submit(ctx, 1)
    h.register(ctx, 1)
    h.draw(ctx)
    h.seal(ctx.params.reveal_deadline)
    return ctx


def _drain(h: Harness, actor: Actor) -> None:
    """Everyone withdraws: the market must hold nothing."""
    if h.market.credit(actor.address):
        h.ok(actor.send("set_mode", ACCEPT, 0))
        h.ok(actor.send("pull"))
    for a in h.accounts:
        if h.market.credit(a.address):
            h.ok(h.market.withdraw(a))
    assert h.chain.balance(h.market.address) == 0
    assert h.market.total_locked() == 0 and h.market.total_credit() == 0


def _fails(h: Harness, ticket: int) -> Receipt:
    r: Receipt = h.tx(ticket)
    assert r.included and not r.ok
    return r


@pytest.mark.parametrize("mode", [ACCEPT, REENTER_WITHDRAW, REENTER_FINALIZE, REFUSE])
def test_contract_actor(market: Harness, mode: int) -> None:
    owner = market.others[40]
    actor = Actor(market, owner, mode)
    _task_with_actor(market, actor)
    owed = market.market.credit(actor.address)
    other = _ready_task(market)
    if mode == REENTER_FINALIZE:
        market.ok(actor.send("set_mode", REENTER_FINALIZE, other.task_id))
    before = market.chain.balance(market.market.address)
    ticket = actor.send("pull")
    if mode in (REENTER_WITHDRAW, REFUSE):
        _fails(market, ticket)
        # the payout reverted as a whole: still owed, nothing left the market
        assert market.market.credit(actor.address) == owed
        assert market.chain.balance(market.market.address) == before
        assert actor.view("received") == 0
    else:
        r = market.ok(ticket)
        assert actor.view("received") == owed
        assert market.market.credit(actor.address) == 0
        assert [e["amount"] for e in r.events_named("Withdrawn")] == [owed]
        finals = [e["task_id"] for e in r.events_named("TaskFinalized")]
        assert finals == ([other.task_id] if mode == REENTER_FINALIZE else [])
    _sums_hold(market)
    if mode != REENTER_FINALIZE:
        market.finalize(other)
    _sums_hold(market)
    _drain(market, actor)
    assert actor.view("received") == owed
    assert market.chain.balance(actor.address) == owed


def test_a_contract_contributor_is_paid_through_the_same_rules(market: Harness) -> None:
    """A contributor that is a contract gets its share, and a refusing one only delays
    its own payout."""
    actor = Actor(market, market.others[41], REFUSE)
    ctx = market.create(committee_size=1)
    market.ok(actor.send("submit", ctx.task_id, "bafkactor"))
    market.register(ctx, 1)
    market.draw(ctx)
    (v,) = ctx.committee
    market.all_ok([market.market.report(v, ctx.task_id, 900_000, [1_000_000])])
    market.finalize(ctx)
    cpool = ctx.reward - ctx.reward * ctx.params.verifier_share_bps // 10_000
    assert market.market.credit(actor.address) == cpool
    _fails(market, actor.send("pull"))
    _sums_hold(market)
    _drain(market, actor)
    assert market.chain.balance(actor.address) == Wei(cpool)
