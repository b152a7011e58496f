"""Chain benchmark: one whole TaskMarket task through baasim's adapter and through web3.py.

Not a test (pytest does not collect ``bench_*.py``): a script that prints figures.

Both paths run the same workload on the same compiled bytecode (``compile_contract``):
create a task, N model submissions, verifier registrations, the committee draw, one
commit and one reveal per member, finalize and every withdrawal, plus the few view
calls the workload needs (next task id, committee, credits). The adapter path is
``contracts.workload.run_workload`` on ``contracts.chain.Chain`` (blocks sealed by the
caller, many transactions per block). The web3 path is web3.py's contract objects on
``EthereumTesterProvider(EthereumTester(PyEVMBackend(...)))`` with auto-mining (one
block per transaction), timed twice: with web3's default gas estimation and with
explicit gas limits (the adapter's own limits). Each path is timed from the
create_task transaction to the last withdrawal receipt; deployment is not timed.

The adapter path runs on each EVM engine (``--engines py-evm,revm``): py-evm and revm
(``contracts.chain.revm``), and the script prints, per call, the time per transaction on each
engine side by side: a block's seal time divided among the transactions it holds (the
workload seals one block per phase, so most blocks hold one kind of call), plus the view
calls. ``--no-web3`` skips the web3 paths.

Run:  .venv/bin/python tests/benchmarks/bench_chain.py [--contributors 50 --verifiers 60
      --committee 20 --repeat 3 --engines py-evm,revm --no-web3]
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from contracts import compile_contract
from contracts.chain import ENGINES, Block, Chain, Engine
from contracts.taskmarket import _GAS, TaskParams, _report_gas, commitment, new_salt
from contracts.units import ETHER
from contracts.workload import WorkloadShape, check_conservation, fresh_market, run_workload


@dataclass(frozen=True)
class Figures:
    """One timed run of the workload."""

    path: str
    transactions: int
    seconds: float
    per_call: dict[str, tuple[int, float]] = field(default_factory=dict)
    """Call label -> (transactions, seconds of sealing attributed to them); "view" for calls."""

    @property
    def tx_per_second(self) -> float:
        return self.transactions / self.seconds


def _timed(chain: Chain, per_call: dict[str, list[float]]) -> None:
    """Time every seal and view of ``chain``, attributing a seal to its transactions."""
    seal, call = chain.seal, chain.call

    def timed_seal(timestamp: int, prevrandao: bytes | None = None) -> Block:
        t = time.perf_counter()
        block = seal(timestamp, prevrandao)
        spent = time.perf_counter() - t
        for r in block.receipts:
            label = (r.label or "other").removeprefix("TaskMarket.")
            per_call[label][0] += 1
            per_call[label][1] += spent / len(block.receipts)
        return block

    def timed_call(*args: Any, **kw: Any) -> bytes:
        t = time.perf_counter()
        out = call(*args, **kw)
        per_call["view"][0] += 1
        per_call["view"][1] += time.perf_counter() - t
        return out

    chain.seal = timed_seal  # type: ignore[method-assign]
    chain.call = timed_call  # type: ignore[method-assign]


def run_adapter(shape: WorkloadShape, seed: int, engine: Engine = "py-evm") -> Figures:
    """The workload through contracts.chain (the simulator's own path) on ``engine``."""
    chain, accounts, market = fresh_market(shape, seed, engine)
    per_call: dict[str, list[float]] = defaultdict(lambda: [0, 0.0])
    _timed(chain, per_call)
    result = run_workload(chain, market, accounts, shape, seed)
    check_conservation(chain, accounts, market)
    if not result.accepted:
        raise RuntimeError("adapter: the benchmark task was not accepted")
    calls = {k: (int(n), t) for k, (n, t) in per_call.items()}
    path = f"adapter (contracts.chain, {engine})"
    return Figures(path, result.transactions, result.seconds, calls)


class _Web3Market:
    """The same calls through web3 contract objects, one auto-mined block per transaction."""

    def __init__(self, n_accounts: int, explicit_gas: bool):
        from eth_tester import EthereumTester, PyEVMBackend
        from web3 import Web3
        from web3.providers.eth_tester import EthereumTesterProvider

        state = PyEVMBackend.generate_genesis_state(
            overrides={"balance": 100 * ETHER}, num_accounts=n_accounts
        )
        self.tester = EthereumTester(PyEVMBackend(genesis_state=state))
        self.w3 = Web3(EthereumTesterProvider(self.tester))
        self.accounts = list(self.w3.eth.accounts)
        self.explicit_gas = explicit_gas
        compiled = compile_contract("TaskMarket")
        factory = self.w3.eth.contract(abi=list(compiled.abi), bytecode=compiled.bytecode)
        tx = factory.constructor().transact({"from": self.accounts[0], "gas": 10_000_000})
        address = self.w3.eth.get_transaction_receipt(tx)["contractAddress"]
        self.contract = self.w3.eth.contract(address=address, abi=list(compiled.abi))
        self.transactions = 0

    def now(self) -> int:
        return int(self.w3.eth.get_block("latest")["timestamp"])

    def travel(self, timestamp: int) -> None:
        if timestamp > self.now():
            self.tester.time_travel(timestamp)

    def transact(self, sender: str, fn: str, *args: Any, value: int = 0, gas: int = 0) -> None:
        tx: dict[str, Any] = {"from": sender, "value": value}
        if self.explicit_gas:
            tx["gas"] = gas or _GAS[fn]
        tx_hash = getattr(self.contract.functions, fn)(*args).transact(tx)
        receipt = self.w3.eth.get_transaction_receipt(tx_hash)
        if receipt["status"] != 1:
            raise RuntimeError(f"web3: {fn} failed")
        self.transactions += 1

    def view(self, fn: str, *args: Any) -> Any:
        return getattr(self.contract.functions, fn)(*args).call()


def run_web3(shape: WorkloadShape, seed: int, explicit_gas: bool) -> Figures:
    """The workload of ``run_workload``, call for call, through web3.py + eth-tester."""
    rng = np.random.default_rng(seed)
    n = 1 + shape.contributors + shape.verifiers
    w = _Web3Market(n, explicit_gas)
    initiator = w.accounts[0]
    contributors = w.accounts[1 : 1 + shape.contributors]
    verifiers = w.accounts[1 + shape.contributors : n]
    iv = shape.block_interval
    start = time.perf_counter()
    now = w.now()
    params = TaskParams(
        mafr_bps=8000,
        committee_size=shape.committee,
        verifier_share_bps=2000,
        submission_deadline=now + 3 * iv + 1000,
        commit_deadline=now + 6 * iv + 2000,
        reveal_deadline=now + 9 * iv + 3000,
        verifier_stake=shape.stake,
        slash_bps=5000,
        commit_reveal=shape.commit_reveal,
    )
    task = w.view("next_task_id")
    w.transact(initiator, "create_task", "bafkreiworkloadspec", params.as_abi(), value=shape.reward)
    for i, c in enumerate(contributors):
        w.transact(c, "submit_model", task, f"bafkreiworkloadmodel{i:04d}")
    for v in verifiers:
        w.transact(v, "register_verifier", task, value=shape.stake)
    w.travel(params.submission_deadline)
    w.transact(initiator, "draw_committee", task)
    members = set(w.view("get_committee", task))
    scores = [int(s) for s in rng.integers(1_000, 100_000, size=shape.contributors)]
    gas = _report_gas(len(scores))
    salts = {}
    for v in verifiers:
        if v not in members:
            continue
        salts[v] = new_salt(rng)
        w.transact(v, "commit", task, commitment(task, v, 900_000, scores, salts[v]))
    w.travel(params.commit_deadline)
    for v, salt in salts.items():
        w.transact(v, "reveal", task, 900_000, scores, salt, gas=gas)
    w.travel(params.reveal_deadline)
    w.transact(initiator, "finalize", task)
    for a in [initiator, *contributors, *verifiers]:
        if w.view("credit", a) > 0:
            w.transact(a, "withdraw")
    seconds = time.perf_counter() - start
    if not w.view("get_task", task)[9]:  # accepted
        raise RuntimeError("web3: the benchmark task was not accepted")
    label = "web3 + EthereumTesterProvider, " + (
        "explicit gas" if explicit_gas else "estimated gas"
    )
    return Figures(label, w.transactions, seconds)


def interleaved_best(repeat: int, runs: list[Callable[[], Figures]]) -> list[Figures]:
    """Best of ``repeat`` for each path, the paths taking turns (so load drifts hit all)."""
    best: list[Figures | None] = [None] * len(runs)
    for _ in range(repeat):
        for i, run in enumerate(runs):
            f, previous = run(), best[i]
            if previous is None or f.seconds < previous.seconds:
                best[i] = f
    return [f for f in best if f is not None]


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as fh:  # noqa: PTH123
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--contributors", type=int, default=50)
    p.add_argument("--verifiers", type=int, default=60)
    p.add_argument("--committee", type=int, default=20)
    p.add_argument("--repeat", type=int, default=3, help="best of this many runs per path")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--engines", default=",".join(ENGINES), help="comma-separated engines")
    p.add_argument("--no-web3", action="store_true", help="time the adapter paths only")
    args = p.parse_args(argv)
    engines: list[Engine] = [e for e in ENGINES if e in args.engines.split(",")]
    shape = WorkloadShape(args.contributors, args.verifiers, args.committee, commit_reveal=True)
    compile_contract("TaskMarket")  # compile (or load the cache) before timing anything
    for engine in engines:
        run_adapter(WorkloadShape(2, 2, 2), args.seed, engine)  # warm imports and caches
    runs: list[Callable[[], Figures]] = [
        lambda e=e: run_adapter(shape, args.seed, e)  # type: ignore[misc]
        for e in engines
    ]
    if not args.no_web3:
        runs += [
            lambda: run_web3(shape, args.seed, explicit_gas=False),
            lambda: run_web3(shape, args.seed, explicit_gas=True),
        ]
    figures = interleaved_best(args.repeat, runs)
    adapters, web3 = figures[: len(engines)], figures[len(engines) :]
    print(f"machine: {cpu_name()}, {os.cpu_count()} cores, python {platform.python_version()}")
    print(
        f"workload: {shape.contributors} contributors, {shape.verifiers} verifiers, "
        f"committee {shape.committee}, commit-reveal; best of {args.repeat}"
    )
    for f in figures:
        print(
            f"  {f.path:<52} {f.transactions:>5} tx {f.seconds:8.3f} s {f.tx_per_second:9.1f} tx/s"
        )
    for a in adapters:
        for f in web3:
            print(f"  ratio {a.path} / {f.path}: {a.tx_per_second / f.tx_per_second:.1f}x")
    if len(adapters) > 1:
        base = adapters[0]
        for a in adapters[1:]:
            print(f"  ratio {a.path} / {base.path}: {base.seconds / a.seconds:.1f}x")
        print_per_call(adapters, engines)
    return 0


def print_per_call(adapters: list[Figures], engines: list[Engine]) -> None:
    """Milliseconds per transaction (per view call) of each call on each engine."""
    labels = sorted({k for a in adapters for k in a.per_call}, key=lambda k: (k == "view", k))
    print("  per transaction, ms: " + "  ".join(f"{e:>10}" for e in engines) + "  speed-up")
    for label in labels:
        ms = []
        for a in adapters:
            n, t = a.per_call.get(label, (0, 0.0))
            ms.append(1e3 * t / n if n else float("nan"))
        n = adapters[0].per_call.get(label, (0, 0.0))[0]
        cells = "  ".join(f"{m:10.3f}" for m in ms)
        print(f"  {label:<18} n={n:<4}{cells}  {ms[0] / ms[-1]:7.1f}x")


if __name__ == "__main__":
    raise SystemExit(main())
