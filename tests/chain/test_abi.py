"""ABI encoding with argument errors that name the call, and event decoding in receipts."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import eth_abi
import pytest
from eth_utils import to_checksum_address

from contracts.chain import ContractAbi, revert_reason
from contracts.errors import CallArgumentError

if TYPE_CHECKING:
    from tests.chain.conftest import Rig

ADDRESS = "0x" + "ab" * 20

ABI: list[dict[str, Any]] = [
    {
        "type": "function",
        "name": "put",
        "stateMutability": "nonpayable",
        "inputs": [
            {"name": "task_id", "type": "uint256"},
            {"name": "who", "type": "address"},
            {"name": "scores", "type": "int256[]"},
            {
                "name": "p",
                "type": "tuple",
                "components": [
                    {"name": "a", "type": "uint256"},
                    {"name": "flag", "type": "bool"},
                ],
            },
        ],
        "outputs": [],
    },
    {
        "type": "function",
        "name": "pair",
        "stateMutability": "view",
        "inputs": [],
        "outputs": [
            {"name": "", "type": "uint256"},
            {"name": "", "type": "address[]"},
        ],
    },
    {"type": "constructor", "inputs": [{"name": "owner", "type": "address"}]},
]


@dataclass(frozen=True)
class P:
    a: int
    flag: bool


@pytest.fixture
def abi() -> ContractAbi:
    return ContractAbi(ABI, "Demo")


def test_struct_arguments_from_dataclass_mapping_or_tuple(abi: ContractAbi) -> None:
    fn = abi.function("put")
    assert fn.signature == "put(uint256,address,int256[],(uint256,bool))"
    a = abi.encode_call("put", [1, ADDRESS, [-1, 2], P(3, True)])
    b = abi.encode_call(
        "put", [1, ADDRESS.upper().replace("0X", "0x"), [-1, 2], {"a": 3, "flag": True}]
    )
    c = abi.encode_call("put", [1, ADDRESS, (-1, 2), (3, True)])
    assert a == b == c
    assert a[:4] == fn.selector
    decoded = eth_abi.decode(fn.input_types, a[4:])
    assert decoded[0] == 1 and list(decoded[2]) == [-1, 2] and decoded[3] == (3, True)


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["1", ADDRESS, [], P(1, True)], "argument 'task_id' expected uint256, got '1' (str)"),
        ([1.0, ADDRESS, [], P(1, True)], "argument 'task_id' expected uint256, got 1.0 (float)"),
        ([True, ADDRESS, [], P(1, True)], "argument 'task_id' expected uint256, got True (bool)"),
        ([-1, ADDRESS, [], P(1, True)], "argument 'task_id' expected uint256, got -1 (int)"),
        ([1, "0x1234", [], P(1, True)], "argument 'who' expected address, got '0x1234'"),
        ([1, ADDRESS, [1.5], P(1, True)], "argument 'scores' expected int256[], got [1.5]"),
        ([1, ADDRESS, 7, P(1, True)], "argument 'scores' expected int256[], got 7 (int)"),
        ([1, ADDRESS, [], {"a": 1}], "argument 'p' expected (uint256,bool)"),
        ([1, ADDRESS, [], (1, 2)], "argument 'p' expected (uint256,bool), got (1, 2)"),
    ],
)
def test_wrong_typed_arguments_name_the_call_and_argument(
    abi: ContractAbi, args: list, fragment: str
) -> None:
    with pytest.raises(CallArgumentError) as info:
        abi.encode_call("put", args)
    message = str(info.value)
    assert message.startswith(
        "Demo.put(task_id: uint256, who: address, scores: int256[], p: (uint256,bool))"
    )
    assert fragment in message
    assert isinstance(info.value, TypeError)  # callers may catch it as a TypeError


def test_wrong_argument_count_and_unknown_function(abi: ContractAbi) -> None:
    with pytest.raises(CallArgumentError, match=r"Demo.put\(.*\): expected 4 arguments, got 1"):
        abi.encode_call("put", [1])
    with pytest.raises(CallArgumentError, match="Demo has no function 'nope'"):
        abi.encode_call("nope", [])


def test_outputs_and_constructor(abi: ContractAbi) -> None:
    fn = abi.function("pair")
    data = eth_abi.encode(["uint256", "address[]"], [5, [ADDRESS]])
    value, addresses = fn.decode_output(data)
    assert value == 5
    assert addresses == [to_checksum_address(ADDRESS)]
    assert abi.encode_constructor([ADDRESS]) == eth_abi.encode(["address"], [ADDRESS])
    with pytest.raises(CallArgumentError, match="argument 'owner' expected address"):
        abi.encode_constructor([5])


def test_revert_reason_decoding() -> None:
    err = bytes.fromhex("08c379a0")
    assert revert_reason(err + eth_abi.encode(["string"], ["nope"])) == "nope"
    assert revert_reason(err + b"\x00" * 5) == "reverted with data 0x08c379a00000000000"
    panic = bytes.fromhex("4e487b71")
    assert revert_reason(panic + (0x32).to_bytes(32, "big")) == (
        "panic 0x32 (array index out of bounds)"
    )
    assert revert_reason(b"") == "reverted without a reason"

    class OutOfGas(Exception):
        pass

    class InvalidInstruction(Exception):
        pass

    assert revert_reason(b"", OutOfGas("out of gas: 3 > 2")) == "out of gas"
    assert revert_reason(b"", InvalidInstruction("opcode 0xfe")) == (
        "InvalidInstruction: opcode 0xfe"
    )


def test_logs_are_decoded_with_block_wide_indices(rig: Rig, probe: tuple) -> None:
    abi, code = probe
    chain = rig.chain
    target = rig.deploy(code)
    anonymous = rig.deploy_runtime(rig.LOG_RUNTIME)
    chain.register_abi(target, abi)
    a, b = rig.accounts[1:3]
    t1 = chain.send(a, target, abi.encode_call("ping", [7, [-3, 4]]), gas=300_000)
    t2 = chain.send(b, anonymous, b"", gas=100_000)  # a log no registered ABI knows
    t3 = chain.send(b, target, abi.encode_call("ping", [9, []]), gas=300_000)
    block = rig.seal()
    r1, r2, r3 = (next(r for r in block.receipts if r.ticket == t) for t in (t1, t2, t3))
    assert r2.ok and r2.events == ()
    assert [e.name for e in r1.events] == ["Ping", "Ping"]
    first = r1.events[0]
    assert dict(first.args) == {"n": 7, "who": a.address, "xs": [-3, 4], "note": "first"}
    assert first["n"] == 7 and r1.events_named("Ping")[1]["note"] == "second"
    assert first.address == target and first.tx_hash == r1.tx_hash
    assert first.block_number == block.number
    # Ethereum numbers logs through the block: r2's unnamed log takes index 2
    assert [e.log_index for e in r1.events + r3.events] == [0, 1, 3, 4]
    assert r3.events[1].args == {"n": 10, "who": b.address, "xs": [], "note": "second"}
