"""A long invariant campaign on TaskMarket, outside CI.

Runs the Hypothesis state machine of ``tests/contracts/test_market_stateful.py`` with
Foundry's default invariant campaign size, 256 sequences of depth 500 (128,000 rule
invocations, Foundry's "calls"; a rule may send several transactions in one block or
none), and prints its figures: steps, contract transactions and blocks, sequences run
and drained to zero, outcomes, failures and wall time. CI runs the same machine with
200 x 40.

    .venv/bin/python scripts/contract_campaign.py                # 256 x 500
    .venv/bin/python scripts/contract_campaign.py --runs 16 --depth 100   # a short one

Exit status: pytest's (0 when every sequence held every invariant).
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SUITE = "tests/contracts/test_market_stateful.py"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=256, help="sequences (Hypothesis examples)")
    ap.add_argument("--depth", type=int, default=500, help="steps per sequence")
    ap.add_argument("--stats", action="store_true", help="print Hypothesis statistics")
    args = ap.parse_args(argv)
    env = dict(
        os.environ,
        BAASIM_STATEFUL_EXAMPLES=str(args.runs),
        BAASIM_STATEFUL_STEPS=str(args.depth),
    )
    cmd = [sys.executable, "-m", "pytest", "-q", "-s", "-p", "no:cacheprovider", SUITE]
    if args.stats:
        cmd.append("--hypothesis-show-statistics")
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    out = proc.stdout + proc.stderr
    figures = dict(re.findall(r"(\w+)=(\d+)", next(iter(re.findall(r"CAMPAIGN .*", out)), "")))
    failed = proc.returncode != 0
    if failed or args.stats:
        print(out[-6000:])
    f = {k: figures.get(k, "?") for k in ("calls", "sequences", "drained", "accepted")}
    g = {k: figures.get(k, "?") for k in ("rejected", "burned", "guaranteed")}
    print(f"campaign: {args.runs} runs x depth {args.depth}")
    print(f"  steps      {args.runs * args.depth} (runs x depth: rule invocations)")
    print(f"  calls      {f['calls']} contract transactions in {figures.get('blocks', '?')} blocks")
    print(f"  sequences  {f['sequences']} (drained to zero: {f['drained']})")
    print(f"  outcomes   accepted {f['accepted']}, rejected {g['rejected']}, burns {g['burned']}")
    print(f"  guaranteed-window reports {g['guaranteed']}")
    print(f"  failures   {1 if failed else 0}")
    print(f"  wall time  {wall:.0f} s")
    return proc.returncode


if __name__ == "__main__":
    raise SystemExit(main())
