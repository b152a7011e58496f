"""Gas per task against the number of contributors and the committee size.

Not a test (pytest does not collect ``bench_*.py``): a script that prints a table and
draws a figure. Every grid point runs one whole task through
``contracts.workload.run_workload`` on a fresh py-evm chain (create, N submissions, R
registrations, the draw, a commit and a reveal per member, or one plain report per member
with ``--plain``, finalize, every withdrawal) and reads the gas of each transaction from
its receipt. Reports carry distinct scores, every member reports, the task is accepted:
the paper's settlement at its most expensive (every contributor paid).

Outputs (``--out``, default ``gas_capacity``): ``gas.csv`` (one row per grid point and
call: mean and max gas of that call in the task), ``gas.md`` (the table BENCHMARKS.md
quotes) and ``gas.png`` (finalize and the per-member report against contributors, one line
per committee size; the block gas limit drawn across). A least-squares fit of finalize gas
to ``a + b·N + c·K + d·N·K`` is printed with the largest N whose finalize fits a block.

Run:  .venv/bin/python tests/benchmarks/bench_gas.py [--contributors 1 8 16 32 64
      --committee 1 8 16 32 --registrants 0 --plain --aggregation majority|median|
      trimmed_mean|claim --out gas_capacity]
      (``--registrants 0``: as many registrants as the committee needs, plus four)
"""

from __future__ import annotations

import argparse
import csv
import io
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from contracts.chain import Receipt
from contracts.settlement import Aggregation
from contracts.units import ETHER, Wei
from contracts.workload import WorkloadShape, check_conservation, fresh_market, run_workload

CALLS = (
    "create_task",
    "submit_model",
    "register_verifier",
    "draw_committee",
    "report",
    "commit",
    "reveal",
    "report_claim",  # a claim task's report or reveal
    "finalize",
    "claim_pay",
    "withdraw",
)
BLOCK_GAS_LIMIT = 30_000_000
"""The simulator's block (``chain.block_gas_limit`` default, Ethereum's limit until 2025)."""


def measure(
    n: int, k: int, registrants: int, plain: bool, aggregation: Aggregation, seed: int = 0
) -> dict[str, list[int]]:
    """Gas of every transaction of one whole task, by call name."""
    shape = WorkloadShape(
        aggregation=aggregation,
        contributors=n,
        verifiers=registrants,
        committee=k,
        commit_reveal=not plain,
        reward=Wei(10 * ETHER),
        stake=Wei(ETHER),
    )
    chain, accounts, market = fresh_market(shape, seed)
    result = run_workload(chain, market, accounts, shape, seed)
    check_conservation(chain, accounts, market)
    if not result.accepted:
        raise RuntimeError(f"bench_gas: the task at N={n}, K={k} was not accepted")
    return by_call(result.receipts)


def by_call(receipts: list[Receipt]) -> dict[str, list[int]]:
    out: dict[str, list[int]] = defaultdict(list)
    for r in receipts:
        out[(r.label or "?").split(".")[-1]].append(r.gas_used)
    return dict(out)


def fit_finalize(rows: list[dict[str, Any]]) -> np.ndarray:
    """Least-squares (a, b, c, d) of finalize gas ≈ a + b·N + c·K + d·N·K."""
    pts = [r for r in rows if r["call"] == "finalize"]
    x = np.array([[1.0, r["n"], r["k"], r["n"] * r["k"]] for r in pts])
    y = np.array([r["max_gas"] for r in pts])
    coef, *_ = np.linalg.lstsq(x, y, rcond=None)
    return np.asarray(coef, dtype=float)


def table(rows: list[dict[str, Any]], calls: list[str]) -> str:
    """Markdown: one row per (N, K), one column per call (mean gas of that call)."""
    cells: dict[tuple[int, int], dict[str, Any]] = defaultdict(dict)
    for r in rows:
        cells[(int(r["n"]), int(r["k"]))][str(r["call"])] = r["mean_gas"]
    head = "| N | K | " + " | ".join(calls) + " |"
    rule = "|" + "---|" * (len(calls) + 2)
    lines = [head, rule]
    for (n, k), by in sorted(cells.items()):
        vals = [f"{by[c]:,.0f}" if c in by else "" for c in calls]
        lines.append(f"| {n} | {k} | " + " | ".join(vals) + " |")
    return "\n".join(lines) + "\n"


def draw(rows: list[dict[str, Any]], report_call: str, limit: int, title: str) -> bytes:
    """Finalize and one member's report against N, one line per K (PNG bytes)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(11.0, 4.2), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, 2)
    for ax, call in zip(axes, ("finalize", report_call), strict=True):
        for k in sorted({int(r["k"]) for r in rows}):
            pts = sorted((r["n"], r["max_gas"]) for r in rows if r["call"] == call and r["k"] == k)
            ax.plot([p[0] for p in pts], [p[1] / 1e6 for p in pts], marker="o", label=f"K = {k}")
        if call == "finalize":
            ax.axhline(limit / 1e6, color="black", linestyle="--", linewidth=0.8)
            ax.annotate(
                f"block gas limit {limit / 1e6:g} M",
                (0.02, limit / 1e6),
                fontsize=8,
                xycoords=("axes fraction", "data"),
                va="bottom",
            )
        ax.set_xlabel("contributors N (submissions)")
        ax.set_ylabel(f"{call} gas (millions)")
        ax.set_title(f"{call}: gas of one transaction", fontsize=10)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, title="committee")
    fig.suptitle(f"TaskMarket gas per task ({title}, every member reports)", fontsize=11)
    png = io.BytesIO()
    fig.savefig(png, format="png", dpi=100)
    return png.getvalue()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--contributors", type=int, nargs="+", default=[1, 8, 16, 32, 64])
    ap.add_argument("--committee", type=int, nargs="+", default=[1, 8, 16, 32])
    ap.add_argument("--registrants", type=int, default=0)
    ap.add_argument("--plain", action="store_true", help="plain reports, no commit-reveal")
    ap.add_argument("--limit", type=int, default=BLOCK_GAS_LIMIT)
    ap.add_argument(
        "--aggregation", choices=[a.name.lower() for a in Aggregation], default="majority"
    )
    ap.add_argument("--out", type=Path, default=Path("gas_capacity"))
    args = ap.parse_args()
    rows: list[dict[str, Any]] = []
    for n in args.contributors:
        for k in args.committee:
            reg = args.registrants or k + 4
            t0 = time.perf_counter()
            gas = measure(n, k, reg, args.plain, Aggregation[args.aggregation.upper()])
            for call, used in gas.items():
                rows.append(
                    {
                        "n": n,
                        "k": k,
                        "registrants": reg,
                        "call": call,  # type: ignore[dict-item]
                        "count": len(used),
                        "mean_gas": float(np.mean(used)),
                        "max_gas": max(used),
                    }
                )
            print(
                f"N={n:4d} K={k:3d} R={reg:4d}: finalize {max(gas['finalize']):>12,} gas "
                f"({time.perf_counter() - t0:.1f} s)",
                flush=True,
            )
    args.out.mkdir(parents=True, exist_ok=True)
    with (args.out / "gas.csv").open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    report_call = "report" if args.plain else "reveal"
    if args.aggregation == "claim":
        report_call = "report_claim"
    calls = [c for c in CALLS if any(r["call"] == c for r in rows)]
    md = table(rows, calls)
    (args.out / "gas.md").write_text(md)
    (args.out / "gas.png").write_bytes(
        draw(rows, report_call, args.limit, f"aggregation {args.aggregation}")
    )
    print(md)
    if len({(r["n"], r["k"]) for r in rows}) < 4:
        return  # too few grid points for the fit
    a, b, c, d = fit_finalize(rows)
    print(f"finalize ≈ {a:,.0f} + {b:,.0f}·N + {c:,.0f}·K + {d:,.1f}·N·K gas")
    for k in args.committee:
        slope = b + d * k
        if slope <= 1.0:  # claim settlement: finalize does not grow with N
            print(f"  K={k:3d}: finalize does not grow with N ({a + c * k:,.0f} gas)")
            continue
        n_max = (args.limit - a - c * k) / slope
        print(f"  K={k:3d}: finalize fits a {args.limit:,} gas block up to N ≈ {n_max:,.0f}")


if __name__ == "__main__":
    main()
