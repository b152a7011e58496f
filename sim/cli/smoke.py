"""``baasim smoke``: one whole task straight through the contract on a fresh chain."""

from __future__ import annotations

import argparse
from typing import Any


def register(sub: Any) -> None:
    p = sub.add_parser("smoke", help="run one task through the market contract on a fresh chain")
    p.add_argument("--seed", type=int, default=0, help="RNG seed (default 0)")
    p.add_argument("--contributors", type=int, default=5, help="computing contributors (<= 64)")
    p.add_argument("--verifiers", type=int, default=7, help="registered verifiers (<= 128)")
    p.add_argument("--committee", type=int, default=5, help="committee size (<= 32)")
    p.add_argument("--no-commit-reveal", action="store_true", help="plain reports")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from contracts.workload import WorkloadShape, smoke
    from sim.errors import ConfigError

    if not 1 <= args.contributors <= 64:
        raise ConfigError(f"--contributors: expected 1..64, got {args.contributors}")
    if not 1 <= args.committee <= min(32, args.verifiers):
        raise ConfigError(f"--committee: expected 1..min(32, --verifiers), got {args.committee}")
    if args.verifiers > 128:
        raise ConfigError(f"--verifiers: expected at most 128, got {args.verifiers}")
    shape = WorkloadShape(
        contributors=args.contributors,
        verifiers=args.verifiers,
        committee=args.committee,
        commit_reveal=not args.no_commit_reveal,
    )
    result = smoke(args.seed, shape)
    print(f"task {result.task_id}: {'accepted' if result.accepted else 'rejected'}")
    print(
        f"{result.transactions} transactions in {result.blocks} blocks, "
        f"{result.seconds:.2f} s wall ({result.tx_per_second:.0f} tx/s)"
    )
    for call, gas in sorted(result.gas_by_call().items()):
        print(f"  {call:<18} {gas:>12,d} gas")
    print("ether conserved; market empty after withdrawals")
    return 0
