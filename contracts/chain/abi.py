"""ABI encoding and decoding for contract calls, return values, events and revert data."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields, is_dataclass
from typing import Any

import eth_abi
from eth_utils import function_signature_to_4byte_selector, keccak

from contracts.chain.accounts import checksum
from contracts.errors import CallArgumentError

_ERROR_SELECTOR = bytes.fromhex("08c379a0")  # Error(string)
_PANIC_SELECTOR = bytes.fromhex("4e487b71")  # Panic(uint256)
_PANIC_CODES = {
    0x01: "assertion failed",
    0x11: "arithmetic overflow or underflow",
    0x12: "division or modulo by zero",
    0x21: "invalid enum value",
    0x31: "pop from empty array",
    0x32: "array index out of bounds",
    0x41: "out of memory",
}


def abi_type(param: Mapping[str, Any]) -> str:
    """The canonical type string of one ABI parameter (tuples spelled out)."""
    t = str(param["type"])
    if not t.startswith("tuple"):
        return t
    inner = ",".join(abi_type(c) for c in param["components"])
    return f"({inner}){t[len('tuple') :]}"


def _to_abi_value(value: Any, param: Mapping[str, Any]) -> Any:
    """Turn dataclasses and mappings into the tuples eth_abi expects for struct types."""
    t = str(param["type"])
    if t.startswith("tuple"):
        suffix = t[len("tuple") :]
        if suffix:  # array of tuples
            elem = {**param, "type": "tuple"}
            return [_to_abi_value(v, elem) for v in value]
        comps = param["components"]
        if is_dataclass(value) and not isinstance(value, type):
            value = {f.name: getattr(value, f.name) for f in fields(value)}
        if isinstance(value, Mapping):
            missing = [c["name"] for c in comps if c["name"] not in value]
            if missing:
                raise TypeError(f"missing fields {missing}")
            return tuple(_to_abi_value(value[c["name"]], c) for c in comps)
        return tuple(_to_abi_value(v, c) for v, c in zip(value, comps, strict=True))
    if t == "address" and isinstance(value, str):
        return checksum(value)
    return value


def _from_abi_value(value: Any, param: Mapping[str, Any]) -> Any:
    """Decoded values with checksummed addresses and structs as dicts."""
    t = str(param["type"])
    if t.startswith("tuple"):
        if t != "tuple":
            elem = {**param, "type": "tuple"}
            return [_from_abi_value(v, elem) for v in value]
        return {
            c["name"]: _from_abi_value(v, c)
            for v, c in zip(value, param["components"], strict=True)
        }
    if t.startswith("address"):
        if t == "address":
            return checksum(value)
        return [checksum(v) for v in value]
    if t.endswith("]") and isinstance(value, tuple):
        return list(value)
    return value


@dataclass(frozen=True)
class FunctionAbi:
    """One function of a contract: its selector and parameter types."""

    name: str
    inputs: tuple[Mapping[str, Any], ...]
    outputs: tuple[Mapping[str, Any], ...]
    mutability: str

    @property
    def input_types(self) -> list[str]:
        return [abi_type(p) for p in self.inputs]

    @property
    def signature(self) -> str:
        return f"{self.name}({','.join(self.input_types)})"

    @property
    def selector(self) -> bytes:
        return function_signature_to_4byte_selector(self.signature)

    def describe(self) -> str:
        """Human-readable signature with parameter names, for error messages."""
        params = ", ".join(f"{p['name']}: {abi_type(p)}" for p in self.inputs)
        return f"{self.name}({params})"

    def encode(self, args: Sequence[Any], contract: str = "") -> bytes:
        """Calldata for a call with ``args``; a bad argument raises CallArgumentError."""
        where = f"{contract}.{self.describe()}" if contract else self.describe()
        if len(args) != len(self.inputs):
            raise CallArgumentError(
                f"{where}: expected {len(self.inputs)} arguments, got {len(args)}"
            )
        values = []
        for value, param in zip(args, self.inputs, strict=True):
            try:
                v = _to_abi_value(value, param)
                eth_abi.encode([abi_type(param)], [v])
            except Exception as err:
                raise CallArgumentError(
                    f"{where}: argument {param['name']!r} expected {abi_type(param)}, "
                    f"got {value!r} ({type(value).__name__}): {err}"
                ) from err
            values.append(v)
        return self.selector + eth_abi.encode(self.input_types, values)

    def decode_output(self, data: bytes) -> Any:
        """The decoded return value: None, one value, or a tuple of values."""
        if not self.outputs:
            return None
        types = [abi_type(p) for p in self.outputs]
        decoded = eth_abi.decode(types, data)
        values = tuple(_from_abi_value(v, p) for v, p in zip(decoded, self.outputs, strict=True))
        return values[0] if len(values) == 1 else values


@dataclass(frozen=True)
class EventAbi:
    """One event: its topic and how to split topics and data into named arguments."""

    name: str
    inputs: tuple[Mapping[str, Any], ...]

    @property
    def signature(self) -> str:
        return f"{self.name}({','.join(abi_type(p) for p in self.inputs)})"

    @property
    def topic(self) -> bytes:
        return keccak(text=self.signature)

    def decode(self, topics: Sequence[bytes], data: bytes) -> dict[str, Any]:
        """Named arguments of one log of this event."""
        indexed = [p for p in self.inputs if p.get("indexed")]
        plain = [p for p in self.inputs if not p.get("indexed")]
        args: dict[str, Any] = {}
        for param, topic in zip(indexed, topics[1:], strict=True):
            (value,) = eth_abi.decode([abi_type(param)], topic)
            args[param["name"]] = _from_abi_value(value, param)
        values = eth_abi.decode([abi_type(p) for p in plain], data)
        for param, value in zip(plain, values, strict=True):
            args[param["name"]] = _from_abi_value(value, param)
        return {p["name"]: args[p["name"]] for p in self.inputs}


class ContractAbi:
    """The ABI of one contract: functions by name, events by topic."""

    def __init__(self, abi: Sequence[Mapping[str, Any]], name: str = "contract"):
        self.name = name
        self.functions: dict[str, FunctionAbi] = {}
        self.events_by_topic: dict[bytes, EventAbi] = {}
        self.constructor: FunctionAbi | None = None
        for item in abi:
            kind = item.get("type")
            if kind == "function":
                fn = FunctionAbi(
                    item["name"],
                    tuple(item.get("inputs", ())),
                    tuple(item.get("outputs", ())),
                    item.get("stateMutability", "nonpayable"),
                )
                self.functions[fn.name] = fn
            elif kind == "event":
                ev = EventAbi(item["name"], tuple(item.get("inputs", ())))
                self.events_by_topic[ev.topic] = ev
            elif kind == "constructor":
                self.constructor = FunctionAbi(
                    "constructor", tuple(item.get("inputs", ())), (), "nonpayable"
                )

    def function(self, name: str) -> FunctionAbi:
        try:
            return self.functions[name]
        except KeyError:
            raise CallArgumentError(f"{self.name} has no function {name!r}") from None

    def encode_call(self, name: str, args: Sequence[Any]) -> bytes:
        return self.function(name).encode(args, self.name)

    def decode_log(self, topics: Sequence[bytes], data: bytes) -> tuple[str, dict[str, Any]] | None:
        """(event name, arguments), or None for a log this ABI does not know."""
        if not topics:
            return None
        ev = self.events_by_topic.get(bytes(topics[0]))
        if ev is None:
            return None
        return ev.name, ev.decode(topics, data)

    def encode_constructor(self, args: Sequence[Any]) -> bytes:
        if self.constructor is None:
            if args:
                raise CallArgumentError(f"{self.name} constructor takes no arguments")
            return b""
        return self.constructor.encode(args, self.name)[4:]


def revert_reason(output: bytes, error: BaseException | None = None) -> str:
    """A readable reason from revert data, or from the EVM error when there is none."""
    if output[:4] == _ERROR_SELECTOR:
        try:
            (msg,) = eth_abi.decode(["string"], output[4:])
            return str(msg)
        except Exception:  # malformed revert data is still a failure to report
            pass
    if output[:4] == _PANIC_SELECTOR and len(output) >= 36:
        code = int.from_bytes(output[4:36], "big")
        return f"panic 0x{code:02x} ({_PANIC_CODES.get(code, 'unknown')})"
    if output:
        return f"reverted with data 0x{output.hex()}"
    if error is None or type(error).__name__ == "Revert":
        return "reverted without a reason"
    name = type(error).__name__
    if name == "OutOfGas":
        return "out of gas"
    text = str(error)
    return f"{name}: {text}" if text else name
