"""Lean agents: accounts created per second, and memory per idle agent.

Usage: .venv/bin/python tests/benchmarks/bench_agents.py [--accounts 100000]
       [--agents 2000 20000] [--eager 5000]

(a) Accounts: ``derive_account`` for ``--accounts`` fresh accounts from one seeded stream
    (one elliptic-curve multiplication each; the signing key object is built only when an
    account first signs), beside the eager path of before (``eth_keys`` ``PrivateKey``
    built at once) on the first ``--eager`` of the same draws: accounts/s of both, the
    ratio, that both give the same addresses, and the bytes each account holds.
(b) Idle agents: the world (chain with every agent's genesis account, market, network,
    learning service, recorder) and the default population of ``tests/benchmarks/scale.toml``
    built for each ``--agents`` count of contributors (shards of 2 digits so that up to
    33,000 fit MNIST; 50 verifiers, 1 initiator), nothing
    run: agents per CPU second at creation (CPU time: the figure does not depend on what
    else shares the machine), and bytes per idle agent as the difference of the traced
    (``tracemalloc``) and resident memory between the largest and smallest count, divided by
    the difference in agents.
"""

from __future__ import annotations

import argparse
import gc
import resource
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from eth_keys.datatypes import PrivateKey
from eth_utils import to_checksum_address

from contracts.chain.accounts import derive_account
from sim.runner import load_population
from sim.scenario import Scenario, load_scenario, with_overrides
from sim.world import build_world

SCALE = Path(__file__).with_name("scale.toml")


def eager_address(rng: np.random.Generator) -> str:
    """The account derivation of before: the ``eth_keys`` key pair built at once."""
    n = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
    while True:
        raw = rng.bytes(32)
        if 0 < int.from_bytes(raw, "big") < n:
            key = PrivateKey(raw)
            return str(to_checksum_address(key.public_key.to_canonical_address()))


def accounts(count: int, eager: int) -> None:
    """Accounts/s of both paths (timed without tracing), then bytes held per account."""
    start, cpu = time.perf_counter(), time.process_time()
    rng = np.random.default_rng(1)
    made = [derive_account(rng) for _ in range(count)]
    lazy_s, lazy_cpu = time.perf_counter() - start, time.process_time() - cpu
    rng = np.random.default_rng(1)
    start, cpu = time.perf_counter(), time.process_time()
    old = [eager_address(rng) for _ in range(eager)]
    eager_s, eager_cpu = time.perf_counter() - start, time.process_time() - cpu
    same = old == [a.address for a in made[:eager]]
    # the signing key is built here, on first use
    signs = str(made[0].key.public_key.to_checksum_address()) == str(made[0].address)
    del made
    sample = min(count, 10_000)
    lazy_b = traced(lambda: [derive_account(np.random.default_rng(2)) for _ in range(sample)])
    rng = np.random.default_rng(2)
    eager_b = traced(lambda: [(derive_account(rng), None) for _ in range(sample)], keys=True)
    print(
        f"accounts: {count:,} in {lazy_s:.2f} s = {count / lazy_s:,.0f} accounts/s "
        f"({count / lazy_cpu:,.0f} per CPU second), {lazy_b / sample:,.0f} bytes each "
        "(signing key not built)"
    )
    print(
        f"eager key pair (before), {eager:,} of the same draws: {eager / eager_s:,.0f} "
        f"accounts/s ({eager / eager_cpu:,.0f} per CPU second); lazy / eager = "
        f"{(count / lazy_s) / (eager / eager_s):.2f}x wall, "
        f"{(count / lazy_cpu) / (eager / eager_cpu):.2f}x CPU; "
        f"{eager_b / sample:,.0f} bytes each with the key built; "
        f"same addresses: {same}; the lazily built key signs for its address: {signs}"
    )


def traced(make: Callable[[], list[Any]], keys: bool = False) -> int:
    """Bytes ``make()``'s result holds (``tracemalloc``), optionally with signing keys built."""
    gc.collect()
    tracemalloc.start()
    held = make()
    if keys:
        for account, _ in held:
            _ = account.key
    size = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    del held
    return size


def rss_bytes() -> int:
    with Path("/proc/self/statm").open() as f:
        return int(f.read().split()[1]) * resource.getpagesize()


def scenario_with(contributors: int) -> Scenario:
    settings = [f"population.contributors={contributors}", "data.shard_size=2"]
    return with_overrides(load_scenario(SCALE), settings)


def build(contributors: int, trace: bool) -> tuple[float, int, int]:
    """CPU seconds to build world + population, bytes held (traced, else RSS), agents."""
    scenario = scenario_with(contributors)
    factory = load_population(scenario.population.plugin)
    gc.collect()
    rss0 = rss_bytes()
    if trace:
        tracemalloc.start()
    start = time.process_time()
    with tempfile.TemporaryDirectory() as tmp:
        world = build_world(scenario, 0, Path(tmp))
        pop = factory(world)
        elapsed = time.process_time() - start
        gc.collect()
        held = tracemalloc.get_traced_memory()[0] if trace else rss_bytes() - rss0
        if trace:
            tracemalloc.stop()
        agents = contributors + scenario.population.verifiers + scenario.population.initiators
        del pop, world
        gc.collect()
    return elapsed, held, agents


def idle_agents(counts: list[int]) -> None:
    """Build time and memory for each count; per-agent memory from the extreme counts."""
    build(100, trace=False)  # warm-up: imports and one-time loads are nobody's per-agent cost
    rows = []
    for n in counts:
        elapsed, rss, agents = build(n, trace=False)
        _, traced_b, _ = build(n, trace=True)
        rows.append((agents, traced_b, rss))
        print(
            f"{agents:,} agents: built in {elapsed:.2f} CPU s = {agents / elapsed:,.0f} agents "
            "per CPU second; "
            f"traced {traced_b / 1e6:,.1f} MB, RSS +{rss / 1e6:,.1f} MB"
        )
    (a0, t0, r0), (a1, t1, r1) = rows[0], rows[-1]
    if a1 > a0:
        print(
            f"per idle agent: {(t1 - t0) / (a1 - a0):,.0f} bytes traced, "
            f"{(r1 - r0) / (a1 - a0):,.0f} bytes RSS"
        )


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--accounts", type=int, default=100_000)
    p.add_argument("--eager", type=int, default=5_000)
    p.add_argument("--agents", type=int, nargs="+", default=[2_000, 20_000])
    args = p.parse_args(argv)
    accounts(args.accounts, min(args.eager, args.accounts))
    idle_agents(sorted(args.agents))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
