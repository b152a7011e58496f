"""Mutation check: inject realistic bugs into TaskMarket.vy and show the suite catches each.

Each mutant is one textual change to a copy of ``contracts/TaskMarket.vy`` (the committed
source is never touched). The script compiles it (a mutant that does not compile is an
error of this script, not a catch), then runs the contract suite against it: the
environment variable ``BAASIM_TASKMARKET_SOURCE`` makes ``tests/contracts/conftest.py``
deploy the mutant instead of the artifact. A mutant is *caught* when a test fails. First
the unmutated source runs the same way (the baseline must pass, or every "catch" would be
meaningless).

    .venv/bin/python scripts/mutation_check.py               # baseline + every mutant
    .venv/bin/python scripts/mutation_check.py --only double_withdraw anyone_cancels

Exit status 0 when the baseline passes and every mutant is caught.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "contracts" / "TaskMarket.vy"
SUITE = [
    "tests/contracts/test_phases.py",
    "tests/contracts/test_create.py",
    "tests/contracts/test_finalize.py",
    "tests/contracts/test_claim.py",
    "tests/contracts/test_defences.py",
    "tests/contracts/test_actors.py",
    "tests/contracts/test_market_stateful.py",
]


@dataclass(frozen=True)
class Mutant:
    name: str
    bug: str
    old: str
    new: str


MUTANTS = [
    Mutant(
        "double_withdraw",
        "withdraw pays without zeroing the credit",
        "    self.credit[msg.sender] = 0\n",
        "",
    ),
    Mutant(
        "missing_member_check",
        "anyone may report: the committee-member check is gone",
        '    self._check(self.is_member[task_id][msg.sender], call, "not a committee member")\n',
        "",
    ),
    Mutant(
        "dust_kept",
        "contributors' rounding dust stays in the contract instead of returning",
        "    return cpool - paid",
        "    return 0",
    ),
    Mutant(
        "anyone_cancels",
        "cancel forgets the initiator check",
        '    self._check(msg.sender == initiator, cn, "only the initiator can cancel")\n',
        "",
    ),
    Mutant(
        "deadline_off_by_one",
        "a submission is accepted at the deadline second itself",
        "    self._check(block.timestamp < self.tasks[task_id].params.submission_deadline, "
        'cn, "submission deadline passed")\n    self._check(msg.sender != self',
        "    self._check(block.timestamp <= self.tasks[task_id].params.submission_deadline, "
        'cn, "submission deadline passed")\n    self._check(msg.sender != self',
    ),
    Mutant(
        "reveal_not_bound_to_sender",
        "a report's commitment leaves out the sender (copyable by another member)",
        "self._open_reveal(task_id, keccak256(abi_encode(task_id, msg.sender, accuracy_ppm, "
        'scores_ppm, salt)), "reveal", False)',
        "self._open_reveal(task_id, keccak256(abi_encode(task_id, accuracy_ppm, "
        'scores_ppm, salt)), "reveal", False)',
    ),
    Mutant(
        "claim_reveal_not_bound_to_sender",
        "claim settlement: a revealed report's commitment leaves out the sender",
        "self._open_reveal(task_id, keccak256(abi_encode(task_id, msg.sender, accuracy_ppm, "
        'scores_ppm, salt)), "report_claim", True)',
        "self._open_reveal(task_id, keccak256(abi_encode(task_id, accuracy_ppm, "
        'scores_ppm, salt)), "report_claim", True)',
    ),
    Mutant(
        "settlement_entry_unchecked",
        "a claim task's report through the paper's entry point (stored, never tallied)",
        "    self._check((self.tasks[task_id].params.aggregation == AGG_CLAIM) == claim, cn, ",
        "    self._check(True, cn, ",
    ),
    Mutant(
        "model_reveal_not_bound_to_sender",
        "a sealed model's commitment leaves out the sender",
        "c == keccak256(abi_encode(task_id, msg.sender, keccak256(cid), salt))",
        "c == keccak256(abi_encode(task_id, keccak256(cid), salt))",
    ),
    Mutant(
        "slashed_stake_vanishes",
        "a slash is cut from the stake but never added to the pool",
        "            slashed += c\n",
        "",
    ),
    Mutant(
        "orphan_slash_to_initiator",
        "burn_orphan_slashes ignored: slashes still reach the initiator",
        "    elif t.params.burn_orphan_slashes and slashed > 0:",
        "    elif False and slashed > 0:",
    ),
    Mutant(
        "unrevealed_slash_ignored",
        "unrevealed_slash_bps ignored: a withheld report costs what a dissent costs",
        "        if p.unrevealed_slash_bps > 0:",
        "        if False:",
    ),
    Mutant(
        "stale_seed_reverts",
        "a future seed older than 256 blocks is drawn from (BLOCKHASH reverts), not re-requested",
        "        if sb == 0 or block.number > sb + 256:",
        "        if sb == 0:",
    ),
    Mutant(
        "seed_rerequested_early",
        "a future seed is re-requested while its hash is still readable (a retry to grind with)",
        "        if sb == 0 or block.number > sb + 256:",
        "        if sb == 0 or block.number > sb + 255:",
    ),
    Mutant(
        "undrawn_refunded",
        "undrawn_pays_contributors ignored: an undrawn task refunds the initiator",
        "        if t.params.undrawn_pays_contributors and t.n_submissions > 0:",
        "        if False:",
    ),
    Mutant(
        "undrawn_claim_paid_in_finalize",
        "an undrawn claim task pays in finalize, through the paper's 64-wide path",
        "            if t.params.aggregation == AGG_CLAIM:\n                # up to 1,024",
        "            if False:\n                # up to 1,024",
    ),
    Mutant(
        "undrawn_claims_read_sums",
        "claim_pay reads an undrawn task's (empty) score sums: its claims are refused",
        "    if self.tasks[task_id].drawn:\n        s = self._score_sum(task_id, index)",
        "    if True:\n        s = self._score_sum(task_id, index)",
    ),
    Mutant(
        "window_ignored",
        "report_window_s ignored: members' deadlines stay the fixed ones",
        "    if w == 0 or not self.tasks[task_id].drawn:",
        "    if True:",
    ),
    Mutant(
        "cancel_lock_ignored",
        "no_cancel_after_submission ignored",
        "self.tasks[task_id].params.no_cancel_after_submission and "
        "self.tasks[task_id].n_entrants > 0",
        "False",
    ),
    Mutant(
        "claim_paid_twice",
        "claim settlement: a submission's claim is never marked, so it can be paid again",
        "    self.claimed[task_id][index] = True\n",
        "",
    ),
    Mutant(
        "claim_dust_kept",
        "claim settlement: the last claim keeps the rounding dust instead of returning it",
        "        self._settle_refund(task_id, self.tasks[task_id].initiator, pool - paid)\n",
        "",
    ),
]


def _compiles(path: Path) -> str | None:
    import vyper

    try:
        vyper.compile_code(path.read_text(), output_formats=["bytecode"])
    except Exception as err:
        return f"{type(err).__name__}: {str(err).splitlines()[0]}"
    return None


def _run_suite(path: Path, examples: int) -> tuple[bool, str, float]:
    """(passed, last lines of output, seconds) of the suite against the source at path."""
    env = dict(
        os.environ,
        BAASIM_TASKMARKET_SOURCE=str(path),
        BAASIM_STATEFUL_EXAMPLES=str(examples),
    )
    cmd = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", *SUITE]
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    lines = [ln for ln in (proc.stdout + proc.stderr).splitlines() if ln.startswith("FAILED")]
    summary = lines[0] if lines else (proc.stdout.strip().splitlines() or [""])[-1]
    return proc.returncode == 0, summary, time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", nargs="*", help="mutant names to run (default: all)")
    ap.add_argument("--examples", type=int, default=40, help="stateful examples per run")
    ap.add_argument("--skip-baseline", action="store_true")
    args = ap.parse_args(argv)
    source = SOURCE.read_text()
    chosen = [m for m in MUTANTS if not args.only or m.name in args.only]
    ok = True
    with tempfile.TemporaryDirectory(prefix="baasim-mutants-") as tmp:
        if not args.skip_baseline:
            base = Path(tmp) / "baseline.vy"
            base.write_text(source)
            passed, summary, secs = _run_suite(base, args.examples)
            verdict = "passes" if passed else "FAILS"
            print(f"{'baseline (unmutated)':32s} {verdict} ({secs:.0f} s)")
            if not passed:
                print(f"  {summary}")
                return 1
        caught = 0
        for m in chosen:
            if source.count(m.old) != 1:
                n = source.count(m.old)
                print(f"{m.name:32s} INVALID: the text to mutate occurs {n} times")
                ok = False
                continue
            path = Path(tmp) / f"{m.name}.vy"
            path.write_text(source.replace(m.old, m.new))
            error = _compiles(path)
            if error:
                print(f"{m.name:32s} INVALID: does not compile ({error})")
                ok = False
                continue
            passed, summary, secs = _run_suite(path, args.examples)
            verdict = "SURVIVED" if passed else "caught"
            caught += not passed
            ok &= not passed
            print(f"{m.name:32s} {verdict:8s} ({secs:.0f} s) {m.bug}")
            if not passed:
                print(f"{'':32s}   by {summary.removeprefix('FAILED ')[:110]}")
        print(f"{caught} of {len(chosen)} mutants caught")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
