"""The chain engine: sealing, block packing, rejected transactions, reverts, fees."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import eth_abi
import pytest
from eth._utils.address import generate_contract_address
from eth_utils import to_canonical_address, to_checksum_address

from contracts.chain import ChainConfig
from contracts.errors import ChainError, TxFailed
from contracts.units import ETHER, GWEI, Address, Wei

if TYPE_CHECKING:
    from tests.chain.conftest import Rig

# ---------------------------------------------------------------- sealing


def test_seal_requires_strictly_increasing_timestamps(rig: Rig) -> None:
    chain = rig.chain
    t0 = chain.head_timestamp
    assert t0 == chain.config.genesis_timestamp
    b1 = chain.seal(t0 + 5)
    assert (b1.number, b1.timestamp) == (1, t0 + 5)
    for bad in (t0 + 5, t0 + 4, t0):
        with pytest.raises(ChainError, match=rf"seal: timestamp {bad} must be after"):
            chain.seal(bad)
    b2 = chain.seal(t0 + 6)
    assert (b2.number, b2.timestamp) == (2, t0 + 6)
    assert (chain.head_number, chain.head_timestamp) == (2, t0 + 6)
    assert b1.hash != b2.hash


def test_receipts_carry_their_block(rig: Rig) -> None:
    a, b = rig.accounts[:2]
    ticket = rig.chain.send(a, b.address, value=1, gas=21_000)
    block = rig.seal(dt=7)
    (r,) = block.receipts
    assert (r.ticket, r.block_number, r.timestamp) == (ticket, block.number, block.timestamp)
    assert r.included and r.ok and r.tx_hash is not None
    assert block.gas_used == r.gas_used == 21_000


def test_prevrandao_must_be_32_bytes(rig: Rig) -> None:
    with pytest.raises(ChainError, match="prevrandao must be 32 bytes"):
        rig.seal(prevrandao=b"\x01" * 31)


def test_block_gas_limit_does_not_decay_over_many_blocks(rig: Rig) -> None:
    # py-evm's default header rule shrinks the limit by 1/1024 per block: after ~190
    # blocks a 25M-gas finalize would never fit again
    for _ in range(400):
        rig.seal(dt=12)
    a, b = rig.accounts[:2]
    ticket = rig.chain.send(a, b.address, value=1, gas=25_000_000)
    block = rig.seal()
    assert block.deferred == 0
    assert [r.ticket for r in block.receipts] == [ticket]


# ---------------------------------------------------------------- packing


def test_packing_defers_what_does_not_fit_and_keeps_each_senders_order(
    rig_factory: Callable[..., Rig],
) -> None:
    rig = rig_factory(ChainConfig(block_gas_limit=100_000), n=6)
    a, b, c, d, e, sink = rig.accounts
    send = rig.chain.send
    # gas limits of 40k: three fit (a transfer uses 21k, so 37k are left after three)
    t1 = send(a, sink.address, value=1, gas=40_000)
    t2 = send(b, sink.address, value=1, gas=40_000)
    t3 = send(c, sink.address, value=1, gas=40_000)
    t4 = send(d, sink.address, value=1, gas=40_000)  # 37k left < 40k: deferred
    t5 = send(e, sink.address, value=1, gas=21_000)  # fits after the deferred one
    t6 = send(d, sink.address, value=2, gas=21_000)  # would fit, but d's t4 waits first
    block = rig.seal()
    assert [r.ticket for r in block.receipts] == [t1, t2, t3, t5]
    assert block.deferred == 2
    assert rig.chain.pending_count == 2
    assert block.gas_used == 4 * 21_000
    nxt = rig.seal()
    assert [r.ticket for r in nxt.receipts] == [t4, t6]
    assert all(r.ok for r in nxt.receipts)
    assert nxt.deferred == 0 and rig.chain.pending_count == 0
    assert rig.chain.nonce(d.address) == 2
    assert rig.chain.tx_count == 6


def test_gas_price_below_base_fee_waits_until_the_base_fee_falls(
    rig_factory: Callable[..., Rig],
) -> None:
    rig = rig_factory(ChainConfig(initial_base_fee=Wei(2 * GWEI), gas_price=GWEI))
    a, b = rig.accounts[:2]
    ticket = rig.chain.send(a, b.address, value=1, gas=21_000)
    fees = []
    for _ in range(20):
        fees.append(rig.chain.base_fee)
        block = rig.seal()
        if block.receipts:
            break
    assert [r.ticket for r in block.receipts] == [ticket]
    assert block.base_fee <= GWEI < fees[0]
    assert fees == sorted(fees, reverse=True)  # empty blocks lower the base fee


# ---------------------------------------------------------------- rejected transactions


def test_insufficient_funds_is_rejected_without_a_nonce_gap(rig: Rig) -> None:
    chain = rig.chain
    poor, _ = chain.new_account(Wei(10**15))
    rig.seal()
    sink = rig.accounts[1].address
    too_much = chain.send(poor, sink, value=ETHER, gas=21_000)
    fine = chain.send(poor, sink, value=1_000, gas=21_000)
    block = rig.seal()
    rejected, ok = block.receipts
    assert rejected.ticket == too_much
    assert not rejected.included and not rejected.ok
    assert rejected.tx_hash is None and rejected.gas_used == 0 and rejected.fee == 0
    assert rejected.revert_reason is not None
    assert rejected.revert_reason.startswith("rejected: insufficient funds")
    with pytest.raises(TxFailed, match="insufficient funds") as info:
        rejected.raise_for_status()
    assert info.value.receipt is rejected
    assert ok.ticket == fine and ok.included and ok.ok
    assert chain.nonce(poor.address) == 1
    assert chain.balance(poor.address) == 10**15 - 1_000 - ok.fee
    assert chain.tx_count == 2  # the funding and the one that fit


def test_gas_below_intrinsic_cost_is_rejected_and_the_block_goes_on(rig: Rig) -> None:
    a, b, c = rig.accounts[:3]
    first = rig.chain.send(a, b.address, value=5, gas=21_000)
    bad = rig.chain.send(b, a.address, data=b"\x01" * 2_000, gas=21_000)
    last = rig.chain.send(c, a.address, value=7, gas=21_000)
    r1, r2, r3 = rig.seal().receipts
    assert (r1.ticket, r2.ticket, r3.ticket) == (first, bad, last)
    assert r1.ok and r3.ok
    assert not r2.included and r2.revert_reason is not None
    assert r2.revert_reason.startswith("rejected: invalid transaction")
    assert rig.chain.nonce(b.address) == 0
    follow = rig.chain.send(b, a.address, value=1, gas=21_000)
    assert rig.one(follow).ok
    assert rig.chain.nonce(b.address) == 1


def test_send_checks_its_arguments(rig: Rig) -> None:
    a, b = rig.accounts[:2]
    with pytest.raises(ChainError, match="send: sender must be an Account"):
        rig.chain.send(a.address, b.address)  # type: ignore[arg-type]
    with pytest.raises(ChainError, match="send: value must be a non-negative int"):
        rig.chain.send(a, b.address, value=-1)
    with pytest.raises(ChainError, match="send: value must be a non-negative int"):
        rig.chain.send(a, b.address, value=1.5)  # type: ignore[arg-type]
    with pytest.raises(ChainError, match=r"send: gas 20999 outside \[21000"):
        rig.chain.send(a, b.address, gas=20_999)
    with pytest.raises(ChainError, match="outside"):
        rig.chain.send(a, b.address, gas=rig.chain.config.block_gas_limit + 1)
    assert rig.chain.pending_count == 0


# ---------------------------------------------------------------- reverts


def _error(msg: str) -> bytes:
    return bytes.fromhex("08c379a0") + eth_abi.encode(["string"], [msg])


def _panic(code: int) -> bytes:
    return bytes.fromhex("4e487b71") + code.to_bytes(32, "big")


@pytest.mark.parametrize(
    ("revert_data", "reason"),
    [
        (_error("no such task"), "no such task"),
        (_panic(0x11), "panic 0x11 (arithmetic overflow or underflow)"),
        (_panic(0x12), "panic 0x12 (division or modulo by zero)"),
        (_panic(0x99), "panic 0x99 (unknown)"),
        (b"", "reverted without a reason"),
        (b"\xde\xad\xbe\xef", "reverted with data 0xdeadbeef"),
        (None, "out of gas"),  # an endless loop
    ],
    ids=["error-string", "panic-overflow", "panic-div0", "panic-unknown", "empty", "raw", "oog"],
)
def test_failed_transactions_carry_their_reason(
    rig: Rig, revert_data: bytes | None, reason: str
) -> None:
    if revert_data is None:
        target = rig.deploy_runtime(rig.LOOP_RUNTIME)
    else:
        target = rig.deploy_reverting(revert_data)
    a = rig.accounts[1]
    before = rig.chain.balance(a.address)
    r = rig.one(rig.chain.send(a, target, b"\x00", gas=100_000, label="probe.call"))
    assert r.included and not r.ok
    assert r.revert_reason == reason
    assert r.gas_used > 21_000 and r.fee == r.gas_used * rig.chain.config.gas_price
    if reason == "out of gas":
        assert r.gas_used == 100_000
    assert rig.chain.balance(a.address) == before - r.fee  # a reverted call still pays gas
    with pytest.raises(TxFailed) as failed:
        r.raise_for_status()
    assert str(failed.value) == f"probe.call failed: {reason}"
    with pytest.raises(TxFailed) as info:
        rig.chain.call(target, b"\x00", label="probe.view", gas=100_000)
    assert info.value.reason == reason and info.value.call == "probe.view"


def test_compiled_contract_reverts_are_decoded(rig: Rig, probe: tuple) -> None:
    abi, code = probe
    target = rig.deploy(code)
    r = rig.one(rig.chain.send(rig.accounts[1], target, abi.encode_call("boom", []), gas=100_000))
    assert r.revert_reason == "boom: a reason"
    out = rig.chain.call(target, abi.encode_call("checked", [4]))
    assert abi.function("checked").decode_output(out) == 8
    with pytest.raises(TxFailed, match="checked: x too large"):
        rig.chain.call(target, abi.encode_call("checked", [10]))


# ---------------------------------------------------------------- fees and contracts


def test_fees_are_gas_used_times_price_and_the_base_fee_is_burned(
    rig_factory: Callable[..., Rig], probe: tuple
) -> None:
    rig = rig_factory(ChainConfig(gas_price=Wei(3 * GWEI), initial_base_fee=Wei(GWEI)))
    chain = rig.chain
    abi, code = probe
    target = rig.deploy(code)
    a, b = rig.accounts[1:3]
    before = {x: chain.balance(x) for x in (a.address, b.address, chain.coinbase)}
    burned_before = chain.burned_fees
    t1 = chain.send(a, b.address, value=12_345, gas=50_000)
    t2 = chain.send(b, target, abi.encode_call("ping", [1, [1, -2]]), gas=200_000)
    block = rig.seal()
    r1, r2 = (next(r for r in block.receipts if r.ticket == t) for t in (t1, t2))
    assert r1.gas_used == 21_000 and r2.gas_used > 21_000
    for r in (r1, r2):
        assert r.fee == r.gas_used * 3 * GWEI
        assert r.burned == r.gas_used * block.base_fee
    assert chain.balance(a.address) == before[a.address] - 12_345 - r1.fee
    assert chain.balance(b.address) == before[b.address] + 12_345 - r2.fee
    tips = (r1.gas_used + r2.gas_used) * (3 * GWEI - block.base_fee)
    assert chain.balance(chain.coinbase) == before[chain.coinbase] + tips
    assert chain.burned_fees == burned_before + r1.burned + r2.burned


def test_contract_creation_reports_the_address(rig: Rig, probe: tuple) -> None:
    _, code = probe
    deployer = rig.accounts[2]
    nonce = rig.chain.nonce(deployer.address)
    r = rig.one(rig.chain.send(deployer, None, code, gas=3_000_000))
    expected = generate_contract_address(to_canonical_address(deployer.address), nonce)
    assert r.contract_address == Address(to_checksum_address(expected))
    assert r.to is None
    assert len(rig.chain.code(r.contract_address)) > 0
    init_reverts = b"\x60\x00\x60\x00\xfd"  # init code that reverts: nothing is created
    failed = rig.one(rig.chain.send(deployer, None, init_reverts, gas=100_000))
    assert not failed.ok and failed.contract_address is None


def test_views_do_not_change_state(rig: Rig, probe: tuple) -> None:
    abi, code = probe
    target = rig.deploy(code)
    rig.one(rig.chain.send(rig.accounts[1], target, abi.encode_call("ping", [1, []])))
    count = abi.function("counter").decode_output(
        rig.chain.call(target, abi.encode_call("counter", []))
    )
    # a state-changing function called as a view runs, but nothing persists
    rig.chain.call(target, abi.encode_call("ping", [2, []]), sender=rig.accounts[1].address)
    again = abi.function("counter").decode_output(
        rig.chain.call(target, abi.encode_call("counter", []))
    )
    assert count == again == 1
    assert rig.chain.nonce(rig.accounts[1].address) == 1
