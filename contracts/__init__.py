"""The market's Vyper sources, compiled in-process, and their typed Python bindings.

Sources live beside this file (``*.vy``). ``compile_contract`` compiles one with the
``vyper`` package; the result is cached under the user cache directory keyed by the
SHA-256 of the source and the compiler version, never edited by hand.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from sim.chain.abi import ContractAbi
from sim.paths import atomic_write, cache_dir

SOURCE_DIR = Path(__file__).resolve().parent


@dataclass(frozen=True)
class CompiledContract:
    """Creation bytecode and ABI of one compiled source."""

    name: str
    abi: tuple[dict[str, Any], ...]
    bytecode: bytes
    runtime_size: int
    source_sha256: str

    @property
    def contract_abi(self) -> ContractAbi:
        return ContractAbi(self.abi, self.name)


def source_path(name: str) -> Path:
    return SOURCE_DIR / f"{name}.vy"


@cache
def compile_contract(name: str) -> CompiledContract:
    """Compile ``contracts/<name>.vy`` (or load the cached artifact of the same source)."""
    import vyper  # imported here: the compiler is only needed when a cache entry is missing

    source = source_path(name).read_text()
    digest = hashlib.sha256(f"{vyper.__version__}\0{source}".encode()).hexdigest()
    artifact = cache_dir("contracts") / f"{name}-{digest[:16]}.json"
    if artifact.exists():
        data = json.loads(artifact.read_text())
    else:
        out = vyper.compile_code(
            source,
            contract_path=f"{name}.vy",
            output_formats=["abi", "bytecode", "bytecode_runtime"],
        )
        data = {
            "abi": out["abi"],
            "bytecode": out["bytecode"],
            "runtime_size": (len(out["bytecode_runtime"]) - 2) // 2,
        }
        atomic_write(artifact, json.dumps(data))
    return CompiledContract(
        name=name,
        abi=tuple(data["abi"]),
        bytecode=bytes.fromhex(data["bytecode"].removeprefix("0x")),
        runtime_size=int(data["runtime_size"]),
        source_sha256=hashlib.sha256(source.encode()).hexdigest(),
    )
