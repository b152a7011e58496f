"""Imports flow one way: agents -> sim, contracts; sim never imports agents; analysis reads."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def imported_top_levels(package: str) -> dict[str, set[str]]:
    """Each module of ``package`` and the top-level packages it imports."""
    out: dict[str, set[str]] = {}
    for path in sorted((ROOT / package).rglob("*.py")):
        tree = ast.parse(path.read_text(), filename=str(path))
        names: set[str] = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
        out[str(path.relative_to(ROOT))] = names
    return out


@pytest.mark.parametrize(
    ("package", "forbidden"),
    [
        ("sim", {"agents"}),
        ("contracts", {"agents", "analysis"}),
        ("analysis", {"agents", "sim", "contracts", "simpy", "web3", "eth", "eth_tester", "mesa"}),
    ],
)
def test_imports_flow_one_way(package: str, forbidden: set[str]) -> None:
    offenders = {
        module: sorted(names & forbidden)
        for module, names in imported_top_levels(package).items()
        if names & forbidden
    }
    assert offenders == {}


def test_only_the_chain_package_touches_the_evm() -> None:
    evm = {"eth", "eth_tester", "web3"}
    offenders = {
        module: sorted(names & evm)
        for package in ("sim", "agents", "contracts", "analysis")
        for module, names in imported_top_levels(package).items()
        if names & evm and not module.startswith("sim/chain/")
    }
    assert offenders == {}


def test_every_module_has_a_docstring() -> None:
    missing = []
    for package in ("sim", "agents", "contracts", "analysis"):
        for path in sorted((ROOT / package).rglob("*.py")):
            tree = ast.parse(path.read_text())
            if ast.get_docstring(tree) is None and path.read_text().strip():
                missing.append(str(path.relative_to(ROOT)))
    assert missing == []
