"""One strategy's share over simulated time per point of a sweep with [adaptation].

Usage: .venv/bin/python scripts/adaptation_figure.py SWEEP_DIR OUT.png [--role verifier]
       [--kind honest] [--title TEXT] [--labels "A,B"]

Reads the sweep's finished runs (``SWEEP_DIR/sweep.json``, ``runs/*/``), samples each run's
shares on one time grid, and draws the mean share of ``--kind`` among the ``--role``'s
agents with its 95 % band, one line per point (README, "Adaptive agents"); ``--labels`` names
the points in the legend, in the sweep's point order (default: the swept values). Prints the
final mean share per point with its interval and run count.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from analysis.adaptation import draw_kind_across, final_shares, read_shares, share_bands
from analysis.stats import mean_ci
from sim.paths import atomic_write


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("sweep")
    parser.add_argument("out")
    parser.add_argument("--role", default="verifier")
    parser.add_argument("--kind", default="honest")
    parser.add_argument("--title", default=None)
    parser.add_argument("--labels", default=None, help="legend names, comma-separated")
    args = parser.parse_args()
    root = Path(args.sweep)
    sweep = json.loads((root / "sweep.json").read_text())
    labels = {
        int(p["point"]): ", ".join(f"{k}={v}" for k, v in p["values"].items())
        for p in sweep["points"]
    }
    if args.labels:
        names = args.labels.split(",")
        if len(names) != len(labels):
            parser.error(f"--labels: {len(labels)} point(s), got {len(names)} name(s)")
        labels = dict(zip(sorted(labels), names, strict=True))
    tables: dict[str, list] = {}
    for run in sweep["runs"]:
        d = root / "runs" / str(run["run_id"])
        got = read_shares(d) if (d / "summary.json").is_file() else None
        if got is not None:
            tables.setdefault(labels[int(run["point"])], []).append(got[1])
    bands = {label: share_bands(t) for label, t in tables.items()}
    for label, runs in tables.items():
        finals = [final_shares(t)[args.role][args.kind] for t in runs]
        n, mean, _std, low, high = mean_ci(finals, 0.95, "t", bounds=(0.0, 1.0))
        print(f"{label}: final {args.kind} share {mean:.3f} [{low:.3f}, {high:.3f}] (n={n})")
    title = args.title or f"{args.kind} {args.role}s over time ({sweep.get('name', root.name)})"
    atomic_write(Path(args.out), draw_kind_across(bands, args.role, args.kind, title))
    print(f"figure: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
