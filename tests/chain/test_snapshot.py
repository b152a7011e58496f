"""``with chain.snapshot():`` undoes everything, and accounts come from the run's RNG."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
import pytest

from contracts.chain import Chain, ChainConfig, Engine, account_from_key, derive_account
from contracts.units import ETHER, Address, Wei

if TYPE_CHECKING:
    from tests.chain.conftest import Rig


def _view(rig: Rig) -> tuple:
    c = rig.chain
    return (
        c.head_number,
        c.head_timestamp,
        c.pending_count,
        c.tx_count,
        c.burned_fees,
        c.base_fee,
        tuple(c.balance(a.address) for a in rig.accounts),
        tuple(c.nonce(a.address) for a in rig.accounts),
        c.balance(c.faucet.address),
        c.balance(c.coinbase),
    )


def test_snapshot_reverts_state_balances_blocks_and_pool(rig: Rig, probe: tuple) -> None:
    abi, code = probe
    chain = rig.chain
    a, b = rig.accounts[:2]
    queued = chain.send(a, b.address, value=5, gas=21_000)  # pending when the snapshot starts
    before = _view(rig)
    with chain.snapshot():
        inner, _ = chain.new_account(Wei(3 * ETHER))
        chain.send(b, a.address, value=7 * ETHER, gas=21_000)
        first = rig.seal(dt=10)
        assert queued in [r.ticket for r in first.receipts]
        target = rig.deploy(code)
        chain.register_abi(target, abi)
        chain.send(a, b.address, value=1, gas=21_000)  # left pending inside
        assert chain.balance(inner.address) == 3 * ETHER
        assert _view(rig) != before
    assert _view(rig) == before
    assert chain.code(target) == b""
    assert chain.balance(inner.address) == 0
    # the RNG came back too: the next account is the one drawn inside the snapshot
    again, funding = chain.new_account(Wei(1))
    assert again.address == inner.address
    # the pool is back to the one queued transaction, and the chain goes on from there
    block = rig.seal(dt=10)
    assert (block.number, block.timestamp) == (first.number, first.timestamp)
    assert [r.ticket for r in block.receipts] == [queued, funding]


def test_snapshot_reverts_when_the_block_raises(rig: Rig) -> None:
    before = _view(rig)
    with pytest.raises(RuntimeError, match="inside"), rig.chain.snapshot():
        rig.chain.send(rig.accounts[0], rig.accounts[1].address, value=ETHER, gas=21_000)
        rig.seal()
        raise RuntimeError("inside")
    assert _view(rig) == before


def test_snapshots_nest(rig: Rig) -> None:
    chain = rig.chain
    a, b = rig.accounts[:2]
    outer_start = _view(rig)
    with chain.snapshot():
        chain.send(a, b.address, value=1, gas=21_000)
        rig.seal()
        middle = _view(rig)
        with chain.snapshot():
            chain.send(a, b.address, value=2, gas=21_000)
            rig.seal()
            rig.seal()
            assert chain.head_number == 3
        assert _view(rig) == middle
        rig.seal()  # the chain works after an inner revert
        assert chain.head_number == 2
    assert _view(rig) == outer_start


def test_new_account_is_funded_by_the_faucet(rig: Rig) -> None:
    chain = rig.chain
    faucet_before = chain.balance(chain.faucet.address)
    account, ticket = chain.new_account(Wei(2 * ETHER))
    assert chain.balance(account.address) == 0  # funding waits for the next seal
    receipt = rig.one(ticket)
    assert receipt.ok and receipt.label == "fund" and receipt.sender == chain.faucet.address
    assert chain.balance(account.address) == 2 * ETHER
    top_up = rig.one(chain.fund(account.address, Wei(ETHER)))
    assert chain.balance(account.address) == 3 * ETHER
    spent = 3 * ETHER + receipt.fee + top_up.fee
    assert chain.balance(chain.faucet.address) == faucet_before - spent
    other, _ = chain.new_account(Wei(1))
    assert other.address != account.address


def test_accounts_are_deterministic_for_a_seed(rig_factory: Callable[..., Rig]) -> None:
    def addresses(seed: int) -> list[Address]:
        chain = rig_factory(seed=seed).chain
        made = [chain.new_account(Wei(1))[0].address for _ in range(3)]
        return [chain.faucet.address, chain.coinbase, *made] + [
            a.address for a in chain.genesis_accounts
        ]

    assert addresses(11) == addresses(11)
    assert set(addresses(11)).isdisjoint(addresses(12))
    assert len(set(addresses(11))) == len(addresses(11))


def test_genesis_supply_is_everything_allocated(engine: Engine) -> None:
    config = ChainConfig(faucet_balance=Wei(5 * ETHER), engine=engine)
    chain = Chain(config, np.random.default_rng(0), [Wei(ETHER), Wei(2 * ETHER)])
    assert chain.genesis_supply == 8 * ETHER
    assert [chain.balance(a.address) for a in chain.genesis_accounts] == [ETHER, 2 * ETHER]


def test_derived_keys_match_their_addresses() -> None:
    rng = np.random.default_rng(5)
    account = derive_account(rng)
    same = account_from_key(account.key.to_bytes())
    assert same == account and same.canonical == account.canonical
    assert account.address.startswith("0x") and account.address != account.address.lower()
    assert derive_account(np.random.default_rng(5)) == account
