"""The package graph is a one-way street, checked on every import statement in the code.

Layers, lowest first (README, "Where things are"):

- ``contracts`` — everything on chain: the EVM engine (``contracts.chain``), the Vyper sources,
  their bindings, settlement arithmetic, the chain's units and the root error. Imports nothing
  of ours.
- ``analysis`` — pure functions on result tables: imports nothing of ours, and importing it
  loads no simulator, chain or agent machinery.
- ``sim`` substrate — the off-chain world (scenario, clock, network, storage, learning,
  churn, recorder, world). Imports ``contracts``; never ``agents`` (populations and strategies
  arrive through entry points and plugin files) and never ``analysis``.
- ``sim`` front end — ``sim.runner`` (the Python API ``sim.run``), ``sim.cli`` and
  ``sim.sweep``: they compose the substrate with ``analysis`` and write what it renders.
- ``agents`` — what participants decide. Imports ``sim`` (not its front end) and ``contracts``.

Every import counts, including those inside functions and under ``TYPE_CHECKING``: an import
hidden in a function is still a dependency.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("contracts", "analysis", "sim", "agents")
FRONT_END = (
    "sim.runner",
    "sim.cli",
    "sim.sweep",
    "sim.dashboard",
    "sim.dashboard_app",
    "sim.__main__",
)


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(path: Path, *, runtime_only: bool = False) -> set[str]:
    """Every module ``path`` imports (absolute names; relative imports resolved), leaving out
    those under ``if TYPE_CHECKING:`` when ``runtime_only``."""
    tree = ast.parse(path.read_text(), filename=str(path))
    skipped: set[int] = set()
    if runtime_only:
        for node in ast.walk(tree):
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                skipped.update(id(n) for stmt in node.body for n in ast.walk(stmt))
    package = module_name(path).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    names: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            module = ".".join([*base, *([node.module] if node.module else [])])
            names.add(module)
            names.update(f"{module}.{alias.name}" for alias in node.names)
    return names


def graph() -> dict[str, set[str]]:
    """Module -> the project modules (or packages) it imports."""
    out: dict[str, set[str]] = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            ours = {n for n in imports_of(path) if n.split(".")[0] in PACKAGES}
            out[module_name(path)] = ours
    return out


def in_front_end(module: str) -> bool:
    return any(module == f or module.startswith(f + ".") for f in FRONT_END)


def layer(module: str) -> str:
    top = module.split(".", maxsplit=1)[0]
    if top == "sim":
        return "sim front end" if in_front_end(module) else "sim substrate"
    return top


ALLOWED = {
    "contracts": {"contracts"},
    "analysis": {"analysis"},
    "sim substrate": {"contracts", "sim substrate"},
    "sim front end": {"contracts", "analysis", "sim substrate", "sim front end"},
    "agents": {"contracts", "sim substrate", "agents"},
}


def importer_layer(module: str) -> str:
    """The layer a module belongs to; ``sim/__init__`` re-exports the run API (front end)."""
    return "sim front end" if module == "sim" else layer(module)


def test_each_layer_imports_only_the_layers_below_it() -> None:
    offenders = {
        module: sorted(n for n in names if layer(n) not in ALLOWED[importer_layer(module)])
        for module, names in graph().items()
    }
    assert {m: names for m, names in offenders.items() if names} == {}


def test_the_packages_form_no_cycle() -> None:
    edges: dict[str, set[str]] = {p: set() for p in PACKAGES}
    for module, names in graph().items():
        edges[module.split(".")[0]].update(n.split(".")[0] for n in names)
    for package in PACKAGES:
        edges[package].discard(package)
    assert _cycles(edges) == []


def test_no_module_imports_itself_back_through_others() -> None:
    """Module-level cycles (at run time: ``TYPE_CHECKING`` back-references aside)."""
    runtime: dict[str, set[str]] = {}
    modules = set(graph())
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            names = {n for n in imports_of(path, runtime_only=True) if n.split(".")[0] in PACKAGES}
            runtime[module_name(path)] = {_resolve(n, modules) for n in names} & modules
    for module, names in runtime.items():
        names.discard(module)
    assert _cycles(runtime) == []


def _resolve(name: str, modules: set[str]) -> str:
    """``pkg.mod.Class`` -> ``pkg.mod``: the longest prefix that is a module."""
    parts = name.split(".")
    for i in range(len(parts), 0, -1):
        candidate = ".".join(parts[:i])
        if candidate in modules:
            return candidate
    return name


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Each strongly connected component with more than one node (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in edges:
                continue
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def test_the_cycle_finder_finds_cycles() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


@pytest.mark.parametrize("module", ["analysis.metrics", "analysis.report", "analysis.stats"])
def test_analysis_loads_no_simulator_machinery(module: str) -> None:
    heavy = ["simpy", "web3", "eth", "eth_tester", "mesa", "torch", "sim", "agents", "contracts"]
    code = f"import sys, {module}; print(sorted(m for m in {heavy!r} if m in sys.modules))"
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]"


def test_only_the_chain_package_touches_the_evm() -> None:
    evm = {"eth", "eth_tester", "web3"}
    offenders = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            tops = {n.split(".")[0] for n in imports_of(path)}
            module = module_name(path)
            if tops & evm and not module.startswith("contracts.chain"):
                offenders[module] = sorted(tops & evm)
    assert offenders == {}


def test_every_module_has_a_docstring() -> None:
    missing = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            tree = ast.parse(path.read_text())
            if ast.get_docstring(tree) is None and path.read_text().strip():
                missing.append(str(path.relative_to(ROOT)))
    assert missing == []
