"""revm against py-evm: the same transactions give the same blocks, receipts and state.

The other tests of this directory run on both engines (the ``engine`` fixture); these drive
both engines side by side through the same script and compare everything they return,
with transactions chosen to hit the pitfalls of ``contracts/chain/revm.py``: warm accounts
and slots leaking from one transaction into the next, stale SSTORE originals and refunds,
fees and nonces that pyrevm leaves to the caller, and the block context.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from contracts.chain import ENGINES, Block, Chain, ChainConfig, ContractAbi, Engine
from contracts.errors import ChainError
from contracts.units import ETHER, Address, Wei
from contracts.workload import WorkloadShape, check_conservation, fresh_market, run_workload

GAS_SOURCE = """
# pragma version 0.4.3
# pragma evm-version cancun
event Context:
    number: uint256
    timestamp: uint256
    prevrandao: bytes32
    coinbase: address
    chain_id: uint256
    gas_limit: uint256
    sender_balance: uint256

slots: public(HashMap[uint256, uint256])

@external
def put(k: uint256, v: uint256):
    self.slots[k] = v

@external
def put_all(k: uint256, vs: DynArray[uint256, 8]):
    for v: uint256 in vs:
        self.slots[k] = v

@external
def poke(who: address) -> uint256:
    return who.balance

@external
def context():
    log Context(number=block.number, timestamp=block.timestamp, prevrandao=block.prevrandao,
                coinbase=block.coinbase, chain_id=chain.id, gas_limit=block.gaslimit,
                sender_balance=msg.sender.balance)

@external
@view
def view_context() -> (uint256, uint256, bytes32, uint256):
    return block.number, block.timestamp, block.prevrandao, chain.id

@external
@payable
def pay(to: address):
    send(to, msg.value)
"""


@pytest.fixture(scope="module")
def gas_contract() -> tuple[ContractAbi, bytes]:
    import vyper

    out = vyper.compile_code(GAS_SOURCE, output_formats=["abi", "bytecode"])
    return ContractAbi(out["abi"], "Gas"), bytes.fromhex(out["bytecode"].removeprefix("0x"))


def _pair(seed: int = 3, n: int = 5) -> tuple[Chain, Chain]:
    def make(engine: Engine) -> Chain:
        config = ChainConfig(engine=engine)
        return Chain(config, np.random.default_rng(seed), [Wei(100 * ETHER)] * n)

    return make("py-evm"), make("revm")


def _same_block(a: Block, b: Block) -> None:
    """Equal in every field but the hash (revm's hash has no state root)."""
    assert dataclasses.replace(b, hash="") == dataclasses.replace(a, hash="")


def _both(chains: tuple[Chain, Chain], act: Callable[[Chain], Any]) -> Any:
    """Do ``act`` on both chains; the results must be equal (blocks: but for the hash)."""
    first, second = (act(c) for c in chains)
    if isinstance(first, Block):
        _same_block(first, second)
    else:
        assert second == first
    return first


def test_revm_is_a_chain_and_unknown_engines_are_refused() -> None:
    evm, revm = _pair()
    assert type(evm) is Chain and isinstance(revm, Chain) and type(revm).__name__ == "RevmChain"
    with pytest.raises(ChainError, match="chain engine must be one of"):
        Chain(ChainConfig(engine="geth"), np.random.default_rng(0))  # type: ignore[arg-type]


def test_same_receipts_gas_logs_and_state_as_py_evm(gas_contract: tuple) -> None:
    abi, code = gas_contract
    chains = _pair()
    accounts = chains[0].genesis_accounts
    a, b, c, d, e = accounts
    fresh = Address("0x" + "ab" * 20)
    deploy = _both(chains, lambda ch: ch.send(a, None, code, gas=3_000_000))
    block = _both(chains, lambda ch: ch.seal(ch.head_timestamp + 12))
    target = next(r for r in block.receipts if r.ticket == deploy).contract_address
    assert target is not None
    for ch in chains:
        ch.register_abi(target, abi)
    script: list[tuple[Any, bytes, int]] = [
        (a, abi.encode_call("put", [1, 5]), 0),  # 0 -> 5: cold slot, new value
        (b, abi.encode_call("put", [1, 5]), 0),  # 5 -> 5 in the next transaction: cold again
        (c, abi.encode_call("put", [1, 0]), 0),  # 5 -> 0: refund
        (d, abi.encode_call("put_all", [2, [1, 2, 0, 3]]), 0),  # originals within one tx
        (e, abi.encode_call("put_all", [2, [3, 0]]), 0),
        (a, abi.encode_call("poke", [fresh]), 0),  # cold account
        (b, abi.encode_call("poke", [fresh]), 0),  # cold again in the next transaction
        (c, abi.encode_call("context", []), 0),
        (d, abi.encode_call("pay", [fresh]), 10**15),  # value to a new account
        (e, abi.encode_call("put", [3, 1]), 0),
    ]
    for sender, data, value in script:
        assert chains[0].send(sender, target, data, value) == chains[1].send(
            sender, target, data, value
        )
    _both(chains, lambda ch: ch.send(a, target, abi.encode_call("put", [9, 9]), gas=30_000))
    _both(chains, lambda ch: ch.send(b, fresh, value=7, gas=21_000))
    _both(chains, lambda ch: ch.send(c, fresh, b"\x01" * 2_000, gas=21_000))  # rejected
    one = _both(chains, lambda ch: ch.seal(ch.head_timestamp + 12, b"\x05" * 32))
    noop_same_block = one.receipts[1].gas_used  # b's 5 -> 5 after a's 0 -> 5
    assert one.receipts[-3].revert_reason == "out of gas"
    assert one.receipts[-1].revert_reason == "rejected: invalid transaction: Insufficient gas"
    assert one.receipts[2].gas_used < one.receipts[1].gas_used  # the refund counted
    assert one.receipts[5].gas_used == one.receipts[6].gas_used  # each poke pays cold access
    (event,) = one.receipts[7].events
    assert event["number"] == one.number and event["prevrandao"] == b"\x05" * 32
    # 1 -> 1 (e wrote it in the block before); same calldata cost as b's 5 -> 5
    _both(chains, lambda ch: ch.send(c, target, abi.encode_call("put", [3, 1])))
    two = _both(chains, lambda ch: ch.seal(ch.head_timestamp + 12))
    assert two.receipts[0].gas_used == noop_same_block  # a no-op write is as cold in a new block
    for ch in chains:
        ch.send(a, target, abi.encode_call("put", [4, 4]))
    _both(chains, lambda ch: ch.seal(ch.head_timestamp + 1))
    addresses = [x.address for x in accounts] + [fresh, target, chains[0].coinbase]
    _both(chains, lambda ch: [(ch.balance(x), ch.nonce(x), ch.code(x)) for x in addresses])
    _both(chains, lambda ch: (ch.burned_fees, ch.tx_count, ch.head_number, ch.base_fee))
    view = abi.encode_call("view_context", [])
    decode = abi.function("view_context").decode_output
    context = _both(chains, lambda ch: decode(ch.call(target, view)))
    assert tuple(context[:2]) == (chains[0].head_number + 1, chains[0].head_timestamp + 1)
    _both(chains, lambda ch: ch.call(target, abi.encode_call("slots", [2])))


def test_a_whole_task_gives_the_same_blocks_on_both_engines() -> None:
    shape = WorkloadShape(4, 5, 3, commit_reveal=True)
    runs = []
    for engine in ENGINES:
        chain, accounts, market = fresh_market(shape, 0, engine)
        blocks: list[Block] = []
        seal = chain.seal

        def recording(timestamp: int, prevrandao: bytes | None = None) -> Block:
            block = seal(timestamp, prevrandao)  # noqa: B023 (called within the iteration)
            blocks.append(block)  # noqa: B023
            return block

        chain.seal = recording  # type: ignore[method-assign]
        result = run_workload(chain, market, accounts, shape, 0)
        check_conservation(chain, accounts, market)
        assert result.accepted
        balances = [chain.balance(x.address) for x in accounts] + [chain.balance(chain.coinbase)]
        runs.append((blocks, balances, chain.burned_fees, chain.code(market.address)))
    (evm_blocks, *evm_rest), (revm_blocks, *revm_rest) = runs
    assert len(evm_blocks) == len(revm_blocks) > 3
    for x, y in zip(evm_blocks, revm_blocks, strict=True):
        _same_block(x, y)
    assert revm_rest == evm_rest


def test_snapshot_on_revm_restores_warmth_as_well_as_state(gas_contract: tuple) -> None:
    abi, code = gas_contract
    chains = _pair()
    a, b = chains[0].genesis_accounts[:2]
    deploy = _both(chains, lambda ch: ch.send(a, None, code, gas=3_000_000))
    block = _both(chains, lambda ch: ch.seal(ch.head_timestamp + 1))
    target = next(r for r in block.receipts if r.ticket == deploy).contract_address
    assert target is not None
    put = abi.encode_call("put", [1, 5])
    revm = chains[1]
    with revm.snapshot():
        revm.send(a, target, put)
        inside = revm.seal(revm.head_timestamp + 1)
    assert revm.call(target, abi.encode_call("slots", [1])) == (0).to_bytes(32, "big")
    _both(chains, lambda ch: ch.send(b, target, put))
    after = _both(chains, lambda ch: ch.seal(ch.head_timestamp + 1))
    assert after.receipts[0].gas_used == inside.receipts[0].gas_used


def test_a_deployment_short_of_its_initcode_gas_fails_as_on_py_evm() -> None:
    chains = _pair()
    a = chains[0].genesis_accounts[0]
    init = b"\x60\x00" * 40  # 80 bytes of init code: 3 words at 2 gas each (EIP-3860)
    intrinsic = 21_000 + 32_000 + 16 * 40 + 4 * 40
    for gas in (intrinsic, intrinsic + 6, intrinsic + 500):
        assert chains[0].send(a, None, init, gas=gas) == chains[1].send(a, None, init, gas=gas)
    block = _both(chains, lambda ch: ch.seal(ch.head_timestamp + 1))
    assert [r.ok for r in block.receipts] == [False, False, True]
    assert block.receipts[0].revert_reason == "out of gas"
    _both(chains, lambda ch: (ch.nonce(a.address), ch.balance(a.address)))
