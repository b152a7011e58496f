"""How long the single-run report takes for a 1,000-agent run.

Usage: .venv/bin/python tests/benchmarks/bench_run_report.py [RUN_DIR ...] [--repeat 3]

Without RUN_DIR it makes a synthetic run of the scale check's size (1,000 contributors,
50 verifiers, 16 tasks an hour apart, 60 submissions and a committee of 5 per task;
``tests/analysis/conftest.py``'s ``write_run``). With RUN_DIR (e.g. the output of
``baasim run tests/benchmarks/scale.toml --seed 0 --out /tmp/scale``) it times that run.
Prints the event rows, agents, the wall time of ``render_run_report`` (tables read, views
computed, seven figures drawn, page built; nothing written) per repeat, its CPU time (what
it costs on an idle core, whatever else the machine runs), and the figure sizes.
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import sys
import tempfile
import time
from pathlib import Path

from analysis.run_report import render_run_report
from analysis.run_tables import read_run

CONFTEST = Path(__file__).resolve().parents[1] / "analysis" / "conftest.py"


def synthetic(root: Path) -> Path:
    spec = importlib.util.spec_from_file_location("analysis_conftest", CONFTEST)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    started = time.perf_counter()
    out: Path = module.write_run(root, contributors=1000, verifiers=50, tasks=16)
    print(f"synthetic run written in {time.perf_counter() - started:.1f} s")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="*", type=Path, help="run directories (default: synthetic)")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        runs = args.runs or [synthetic(Path(tmp) / "synthetic")]
        for root in runs:
            run = read_run(root)
            agents = run.events[run.events["kind"] == "funded"]["agent"].nunique()
            times, cpu = [], []
            for _ in range(args.repeat):
                started, used = time.perf_counter(), time.process_time()
                report = render_run_report(root, Path(tmp) / "report")
                times.append(time.perf_counter() - started)
                cpu.append(time.process_time() - used)
            sizes = {k: len(v) // 1024 for k, v in report.files.items() if k.endswith(".png")}
            print(
                f"{root}: {len(run.events):,} events, {agents:,} agents; render "
                f"{statistics.median(times):.2f} s median of {args.repeat} "
                f"({', '.join(f'{t:.2f}' for t in times)}), CPU {statistics.median(cpu):.2f} s; "
                f"figures (KiB): {sizes}"
            )


if __name__ == "__main__":
    main()
