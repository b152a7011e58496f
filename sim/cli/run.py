"""``baasim run FILE``: run a scenario, write its outputs, print a short summary."""

from __future__ import annotations

import argparse
import contextlib
from concurrent.futures import Executor
from pathlib import Path
from typing import Any

from sim.cli.options import add_set_option


def register(sub: Any) -> None:
    p = sub.add_parser("run", help="run a scenario file")
    p.add_argument("file", help="scenario TOML file (see scenarios/)")
    p.add_argument("--seed", type=int, default=None, help="run only this seed (default: run.seeds)")
    p.add_argument("--out", default=None, help="output directory (default: results/<scenario>)")
    add_set_option(p, "override a scenario value (TOML syntax), e.g. --set tasks[0].mafr=0.9")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument(
        "--report",
        action="store_true",
        help="also write the run's HTML report (OUT/report/index.html; see baasim report)",
    )
    p.add_argument(
        "--scheduler",
        default=None,
        metavar="ADDRESS|local",
        help="train the run's models on Dask: tcp://host:8786 for an existing scheduler, "
        "'local' for a LocalCluster of --workers processes (default: here); same results",
    )
    p.add_argument(
        "--workers", type=int, default=2, help="LocalCluster processes for --scheduler local"
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from sim.errors import ConfigError
    from sim.runner import resolve, write_run_report
    from sim.runner import run as run_scenario

    scenario = resolve(args.file, args.overrides)
    if args.seed is not None and args.seed < 0:
        raise ConfigError(f"--seed: expected a non-negative integer, got {args.seed}")
    seeds = (args.seed,) if args.seed is not None else scenario.run.seeds
    base = Path(args.out) if args.out else Path("results") / scenario.name
    with contextlib.ExitStack() as stack:
        executor = learning_executor(args.scheduler, args.workers, stack)
        for seed in seeds:
            out = base if len(seeds) == 1 else base / f"seed-{seed}"
            result = run_scenario(
                scenario, seed, out=out, progress=not args.quiet, learning_executor=executor
            )
            print_summary(result.summary, out)
            if args.report:
                print(f"  report: {write_run_report(out)}")
    return 0


def learning_executor(
    scheduler: str | None, workers: int, stack: contextlib.ExitStack
) -> Executor | None:
    """The executor ``--scheduler`` names for a run's learning work (None: train here)."""
    from sim.errors import ConfigError
    from sim.sweep.cluster import dask_client

    if scheduler is None:
        return None
    if workers < 1:
        raise ConfigError(f"--workers: expected an integer >= 1, got {workers}")
    if scheduler != "local" and "://" not in scheduler:
        raise ConfigError(
            f"--scheduler: expected 'local' or a scheduler address such as "
            f"tcp://host:8786, got {scheduler!r}"
        )
    client = dask_client(None if scheduler == "local" else scheduler, workers, stack)
    executor: Executor = client.get_executor(pure=False)
    return executor


def print_summary(summary: dict[str, Any], out: Path) -> None:
    """A short human summary of one run's summary.json."""
    print(
        f"run {summary['run_id']}: {summary['status']}, "
        f"{summary['sim_duration_s']:,.0f} s simulated in {summary['wall_time_s']:.1f} s"
    )
    for t in summary["task_outcomes"]:
        verdict = {True: "accepted", False: "rejected", None: "not finalized"}[t["accepted"]]
        line = f"  task {t['task']} ({t['template']}): {verdict}"
        if t["aggregate_accuracy"] is not None:
            line += f", reported fused accuracy {t['aggregate_accuracy']:.4f}"
        if t.get("initiator_model_accuracy") is not None:
            line += f"; the initiator's model: {t['initiator_model_accuracy']:.4f} held-out"
        if t["test_accuracy"] is not None:
            line += f" (all submissions fused: {t['test_accuracy']:.4f})"
        print(line)
    print(
        f"  {summary['transactions']} transactions, {summary['gas_total']:,} gas, "
        f"{summary['fees_wei'] / 1e18:.6f} ether in fees"
    )
    by_role: dict[str, list[int]] = {}
    for agent in summary["agents"].values():
        by_role.setdefault(agent["role"], []).append(agent["profit_wei"] or 0)
    for role, profits in sorted(by_role.items()):
        mean = sum(profits) / len(profits) / 1e18
        print(f"  {role:<12} n={len(profits):<4} mean profit {mean:+.6f} ether")
    print(f"  outputs: {out}/events.parquet, summary.json, series.parquet, scenario.toml")
