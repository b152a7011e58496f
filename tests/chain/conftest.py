"""Fixtures for the chain adapter: fresh chains, hand-assembled and compiled test contracts."""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest

from contracts.chain import (
    ENGINES,
    Account,
    Block,
    Chain,
    ChainConfig,
    ContractAbi,
    Engine,
    Receipt,
)
from contracts.units import ETHER, Address, Wei

PROBE_SOURCE = """
# pragma version 0.4.3
# pragma evm-version cancun
event Ping:
    n: indexed(uint256)
    who: indexed(address)
    xs: DynArray[int256, 4]
    note: String[16]

counter: public(uint256)

@external
def ping(n: uint256, xs: DynArray[int256, 4]):
    self.counter += 1
    log Ping(n=n, who=msg.sender, xs=xs, note="first")
    log Ping(n=n + 1, who=msg.sender, xs=xs, note="second")

@external
def boom():
    raise "boom: a reason"

@external
@view
def checked(x: uint256) -> uint256:
    assert x < 10, "checked: x too large"
    return x * 2
"""


def creation_code(runtime: bytes) -> bytes:
    """Init code that deploys ``runtime`` as is (CODECOPY + RETURN)."""
    n = len(runtime).to_bytes(2, "big")
    prefix = b"\x61" + n + b"\x80" + b"\x61" + (13).to_bytes(2, "big") + b"\x60\x00\x39\x60\x00\xf3"
    return prefix + runtime


def reverting_runtime(data: bytes) -> bytes:
    """Runtime code that reverts with exactly ``data`` as revert data."""
    code = b""
    for off in range(0, len(data), 32):
        chunk = data[off : off + 32].ljust(32, b"\x00")
        code += b"\x7f" + chunk + b"\x61" + off.to_bytes(2, "big") + b"\x52"
    return code + b"\x61" + len(data).to_bytes(2, "big") + b"\x60\x00\xfd"


LOOP_RUNTIME = b"\x5b\x60\x00\x56"  # JUMPDEST PUSH1 0 JUMP: runs until out of gas
LOG_RUNTIME = b"\x7f" + b"\x11" * 32 + b"\x60\x00\x60\x00\xa1\x00"  # LOG1 with one topic


@dataclass
class Rig:
    """A fresh chain with a few funded genesis accounts and helpers to drive it."""

    LOOP_RUNTIME = LOOP_RUNTIME
    LOG_RUNTIME = LOG_RUNTIME

    chain: Chain
    accounts: list[Account]

    def seal(self, dt: int = 1, **kw: Any) -> Block:
        return self.chain.seal(self.chain.head_timestamp + dt, **kw)

    def one(self, ticket: int, dt: int = 1) -> Receipt:
        """Seal a block and return the receipt of ``ticket``."""
        block = self.seal(dt)
        return next(r for r in block.receipts if r.ticket == ticket)

    def deploy(self, code: bytes, sender: Account | None = None) -> Address:
        r = self.one(self.chain.send(sender or self.accounts[0], None, code, gas=3_000_000))
        r.raise_for_status()
        assert r.contract_address is not None
        return r.contract_address

    def deploy_runtime(self, runtime: bytes) -> Address:
        """Deploy hand-assembled runtime code."""
        return self.deploy(creation_code(runtime))

    def deploy_reverting(self, data: bytes) -> Address:
        """Deploy a contract that reverts every call with ``data``."""
        return self.deploy_runtime(reverting_runtime(data))


def make_rig(
    config: ChainConfig | None = None, seed: int = 0, n: int = 6, engine: Engine = "py-evm"
) -> Rig:
    config = dataclasses.replace(config or ChainConfig(), engine=engine)
    chain = Chain(config, np.random.default_rng(seed), [Wei(100 * ETHER)] * n)
    return Rig(chain, list(chain.genesis_accounts))


@pytest.fixture(params=ENGINES)
def engine(request: pytest.FixtureRequest) -> Engine:
    """Each test of the chain runs on every engine."""
    found: Engine = request.param
    return found


@pytest.fixture
def rig(engine: Engine) -> Rig:
    return make_rig(engine=engine)


@pytest.fixture
def rig_factory(engine: Engine) -> Callable[..., Rig]:
    return functools.partial(make_rig, engine=engine)


@pytest.fixture(scope="session")
def probe() -> tuple[ContractAbi, bytes]:
    """ABI and creation bytecode of a small compiled Vyper contract (events, reverts)."""
    import vyper

    out = vyper.compile_code(PROBE_SOURCE, output_formats=["abi", "bytecode"])
    return ContractAbi(out["abi"], "Probe"), bytes.fromhex(out["bytecode"].removeprefix("0x"))
