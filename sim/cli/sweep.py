"""``baasim sweep [SWEEP.toml] --out DIR``: run a parameter grid × seeds, resumably.

The sweep comes from a sweep file (see ``sim.sweep.spec``), from flags, or from both (flags
add axes and fixed settings to the file's, and replace its base scenario or seeds). Runs go
to local worker processes by default, or to Dask with ``--scheduler``.
"""

from __future__ import annotations

import argparse
import signal
import tomllib
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any, TypeVar

from sim.cli.options import add_set_option
from sim.errors import ConfigError

T = TypeVar("T")


def register(sub: Any) -> None:
    p = sub.add_parser(
        "sweep",
        help="run a Monte Carlo sweep (parameter grid × seeds)",
        description="Run every (point, seed) of a sweep into DIR; re-running resumes.",
    )
    p.add_argument("file", nargs="?", help="sweep TOML file (see scenarios/sweeps/)")
    p.add_argument("--out", default=None, metavar="DIR", help="default: results/<sweep name>")
    p.add_argument("--scenario", default=None, help="base scenario file (replaces the file's)")
    p.add_argument(
        "--vary",
        action="append",
        default=[],
        metavar="KEY=SPEC",
        help="add an axis: SPEC is a TOML list [a, b, c] or an inline table "
        '{start=.., stop=.., step=..} / {start=.., stop=.., num=.., scale="log"}',
    )
    p.add_argument(
        "--zip",
        action="append",
        nargs="+",
        default=[],
        metavar="KEY=SPEC",
        help="add one axis whose keys advance together (give two or more KEY=SPEC)",
    )
    p.add_argument("--seeds", default=None, help="a count (5: seeds 0-4) or a list (1,2,3 or [0])")
    add_set_option(p, "fix a scenario value for every point (TOML syntax)")
    p.add_argument("--name", default=None, help="sweep name (default: the file's stem)")
    p.add_argument("--workers", type=int, default=None, help="worker processes (default: cores)")
    p.add_argument(
        "--scheduler",
        default=None,
        metavar="ADDRESS|local",
        help="run on Dask: tcp://host:8786 for an existing scheduler, 'local' for a "
        "LocalCluster of --workers processes (default: local worker processes, no Dask)",
    )
    p.add_argument(
        "--threads",
        type=int,
        default=None,
        help="torch threads per run (default: cores / workers locally; torch's own on a cluster)",
    )
    p.add_argument("--dry-run", action="store_true", help="validate and list the points only")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from sim.sweep import build_plan, run_sweep

    spec = build_spec(args)
    if spec.deviations is not None:
        return _region(spec, args)
    plan = build_plan(spec)
    if args.dry_run:
        for point in plan.points:
            print(f"point {point.index}: {point.label} (hash {point.scenario.digest[:10]})")
        print(f"{len(plan.points)} point(s) × {len(plan.seeds)} seed(s): all valid")
        return 0
    executor, threads = executor_and_threads(args)
    out = Path(args.out) if args.out else Path("results") / spec.name
    status = resumable(
        "baasim sweep",
        out,
        lambda: run_sweep(plan, out, executor, threads=threads, progress=not args.quiet),
    )
    if status is None:
        return 130
    print(
        f"{status.done} run(s) finished now, {status.skipped} before, {status.failed} failed "
        f"({status.wall_s:.1f} s). Tables: {status.runs_table}"
        + (f", {status.events_table}" if status.events_table else "")
    )
    if status.failed:
        print(f"failed runs (tracebacks in {out}/failed/); run the same command again to retry")
        return 1
    print(f"report: baasim report {out}")
    return 0


def _region(spec: Any, args: argparse.Namespace) -> int:
    """A sweep with ``[deviations]``: a deviation study at every grid point."""
    from sim.sweep.deviations import build_region_plan, describe_plan

    dplan = build_region_plan(spec)
    if args.dry_run:
        print("\n".join(describe_plan(dplan)))
        return 0
    executor, threads = executor_and_threads(args)
    out = Path(args.out) if args.out else Path("results") / spec.name
    return run_study("baasim sweep", dplan, out, executor, threads, not args.quiet)


def executor_and_threads(args: argparse.Namespace) -> tuple[Any, int | None]:
    """The executor ``--scheduler``/``--workers`` name, and the torch threads of each run
    (``--threads``; on local workers by default the cores shared among them)."""
    from sim.sweep.local import default_workers

    executor = make_executor(args.scheduler, args.workers)
    threads = args.threads
    if threads is None and args.scheduler in (None, "local"):
        threads = max(1, default_workers() // executor.workers)
    if threads is not None and threads < 1:
        raise ConfigError(f"--threads: expected an integer >= 1, got {threads}")
    return executor, threads


def resumable(command: str, out: Path, work: Callable[[], T]) -> T | None:
    """``work()``, with SIGTERM handled as Ctrl-C; on either, say how to resume and return
    None (every finished run is already kept in ``out/runs``)."""
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        return work()
    except KeyboardInterrupt:
        print(
            f"{command}: interrupted; every finished run is kept in {out}/runs. "
            "Run the same command again to resume.",
            flush=True,
        )
        return None
    finally:
        signal.signal(signal.SIGTERM, previous)


def run_study(
    command: str, dplan: Any, out: Path, executor: Any, threads: int | None, progress: bool
) -> int:
    """Run a deviation study (one point or a region) and print its verdicts; the exit
    status."""
    from sim.sweep.deviations import describe_status, run_deviations

    status = resumable(
        command,
        out,
        lambda: run_deviations(dplan, out, executor, threads=threads, progress=progress),
    )
    if status is None:
        return 130
    print("\n".join(describe_status(dplan, status, out)))
    return 1 if status.sweep.failed or status.missing_pairs else 0


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def make_executor(scheduler: str | None, workers: int | None) -> Any:
    """The executor a ``--scheduler`` value asks for."""
    from sim.sweep import DaskExecutor, LocalExecutor

    if scheduler is None:
        return LocalExecutor(workers)
    if scheduler == "local":
        return DaskExecutor(None, workers)
    if "://" not in scheduler:
        raise ConfigError(
            f"--scheduler: expected 'local' or a scheduler address such as "
            f"tcp://host:8786, got {scheduler!r}"
        )
    return DaskExecutor(scheduler, workers)


def build_spec(args: argparse.Namespace) -> Any:
    """The sweep definition from the file (if any) and the flags."""
    from sim.sweep.spec import read_sweep_table, spec_from_table

    if args.file:
        table = read_sweep_table(args.file)
        where = args.file if not _has_flags(args) else f"{args.file} (with command-line flags)"
    else:
        if not args.scenario:
            raise ConfigError("baasim sweep: give a sweep file, or --scenario with --vary flags")
        table = {"name": args.name or f"{Path(args.scenario).stem}-sweep"}
        where = "command line"
    if args.scenario:
        table["scenario"] = str(Path(args.scenario).resolve())
    if args.name:
        table["name"] = args.name
    if args.seeds is not None:
        table["seeds"] = parse_seeds(args.seeds)
    if args.overrides:
        fixed = dict(table.get("set", {}))
        for setting in args.overrides:
            key, value = _key_value(setting, "--set")
            fixed[key] = value
        table["set"] = fixed
    vary = list(table.get("vary", []))
    for setting in args.vary:
        vary.append(_param(setting, "--vary"))
    for group in args.zip:
        vary.append({"zip": [_param(s, "--zip") for s in group]})
    table["vary"] = vary
    return spec_from_table(table, where=where)


def _has_flags(args: argparse.Namespace) -> bool:
    return bool(args.scenario or args.vary or args.zip or args.seeds or args.overrides)


def parse_seeds(text: str) -> int | list[int]:
    """``5`` (a count: seeds 0-4), or a list: ``1,2,3``, ``[1, 2, 3]``, ``[0]``."""
    listed = "," in text or "[" in text
    raw = text.strip().strip("[]")
    try:
        if not listed:
            return int(raw)
        return [int(s) for s in raw.split(",") if s.strip()]
    except ValueError:
        raise ConfigError(
            f"--seeds: expected a count or a list such as 1,2,3, got {text!r}"
        ) from None


def _key_value(setting: str, flag: str) -> tuple[str, Any]:
    key, sep, raw = setting.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"{flag}: {setting!r}: expected KEY.PATH=VALUE")
    try:
        return key.strip(), tomllib.loads(f"v = {raw.strip()}")["v"]
    except tomllib.TOMLDecodeError:
        raw = raw.strip()
        if raw and all(c.isalnum() or c in "-_." for c in raw):
            return key.strip(), raw  # a bare word is a string
        raise ConfigError(f"{flag}: {key.strip()}: {raw!r} is not a TOML value") from None


def _param(setting: str, flag: str) -> dict[str, Any]:
    key, value = _key_value(setting, flag)
    if isinstance(value, dict):
        return {"key": key, **value}
    if isinstance(value, list):
        return {"key": key, "values": value}
    return {"key": key, "values": [value]}
