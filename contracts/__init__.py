"""Everything on chain: the Vyper sources, the EVM engine, their bindings and settlement.

This is the lowest layer of baasim: it imports nothing from ``sim``, ``agents`` or
``analysis``. ``contracts.chain`` is the in-process chain (py-evm), ``contracts.taskmarket``
the typed bindings of ``TaskMarket.vy``, ``contracts.settlement`` the contract's payment
arithmetic in Python, ``contracts.units`` the chain's units and ``contracts.errors`` the root
of the exception hierarchy.

Sources live beside this file (``*.vy``; an attacker's helper contracts, which are no part
of the market, in ``attacks/``), each with its compiled artifact (``<name>.json``:
ABI, creation bytecode, runtime size, the source's SHA-256 and the compiler version),
committed so that no process compiles at start-up and this layer writes no files.
``compile_contract`` uses the artifact when it matches the source and the installed
compiler, and otherwise compiles in memory (a test fails until the artifact is rewritten
with ``python scripts/compile_contracts.py``).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from contracts.chain.abi import ContractAbi

SOURCE_DIR = Path(__file__).resolve().parent


@dataclass(frozen=True)
class CompiledContract:
    """Creation bytecode and ABI of one compiled source."""

    name: str
    abi: tuple[dict[str, Any], ...]
    bytecode: bytes
    runtime_size: int
    source_sha256: str
    compiler: str

    @property
    def contract_abi(self) -> ContractAbi:
        return ContractAbi(self.abi, self.name)

    def artifact(self) -> dict[str, Any]:
        """The JSON document committed beside the source."""
        return {
            "compiler": self.compiler,
            "source_sha256": self.source_sha256,
            "runtime_size": self.runtime_size,
            "abi": list(self.abi),
            "bytecode": "0x" + self.bytecode.hex(),
        }


def contract_names() -> tuple[str, ...]:
    """Every Vyper source under this package, as ``compile_contract`` names it: the path
    relative to this directory without ``.vy`` (``TaskMarket``, ``attacks/Grinder``)."""
    return tuple(
        sorted(
            p.relative_to(SOURCE_DIR).with_suffix("").as_posix() for p in SOURCE_DIR.rglob("*.vy")
        )
    )


def source_path(name: str) -> Path:
    return SOURCE_DIR / f"{name}.vy"


def artifact_path(name: str) -> Path:
    return SOURCE_DIR / f"{name}.json"


def compiler_version() -> str:
    from importlib.metadata import version

    return f"vyper {version('vyper')}"


@cache
def compile_contract(name: str) -> CompiledContract:
    """``contracts/<name>.vy`` compiled: the committed artifact when it is current, else a
    fresh in-memory compilation."""
    source = source_path(name).read_text()
    digest = hashlib.sha256(source.encode()).hexdigest()
    artifact = artifact_path(name)
    if artifact.exists():
        data = json.loads(artifact.read_text())
        if data.get("source_sha256") == digest and data.get("compiler") == compiler_version():
            return _from_artifact(name, data)
    return compile_source(name)


def compile_source(name: str) -> CompiledContract:
    """Compile ``contracts/<name>.vy`` with the installed vyper (seconds; no cache)."""
    import vyper  # the compiler is only needed when the artifact is stale

    source = source_path(name).read_text()
    out = vyper.compile_code(
        source,
        contract_path=f"{name}.vy",
        output_formats=["abi", "bytecode", "bytecode_runtime"],
    )
    return CompiledContract(
        name=name,
        abi=tuple(out["abi"]),
        bytecode=bytes.fromhex(out["bytecode"].removeprefix("0x")),
        runtime_size=(len(out["bytecode_runtime"]) - 2) // 2,
        source_sha256=hashlib.sha256(source.encode()).hexdigest(),
        compiler=compiler_version(),
    )


def _from_artifact(name: str, data: dict[str, Any]) -> CompiledContract:
    return CompiledContract(
        name=name,
        abi=tuple(data["abi"]),
        bytecode=bytes.fromhex(data["bytecode"].removeprefix("0x")),
        runtime_size=int(data["runtime_size"]),
        source_sha256=data["source_sha256"],
        compiler=data["compiler"],
    )
