"""``baasim reproduce paper``: the paper's Figs 5 and 6 as CSV tables, PNG plots, summary."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from sim.learning.config import DATASET_NAMES


def register(sub: Any) -> None:
    p = sub.add_parser("reproduce", help="reproduce an experiment of the paper")
    which = p.add_subparsers(dest="experiment", required=True, metavar="EXPERIMENT")
    paper = which.add_parser(
        "paper", help="Figs 5-6: five contributors' CNNs and their fusion by verifiers"
    )
    paper.add_argument("--dataset", default="mnist", choices=DATASET_NAMES, help="(mnist)")
    paper.add_argument("--out", type=Path, default=None, help="output directory")
    paper.add_argument("--seeds", type=int, default=3, help="number of seeds (3)")
    paper.add_argument("--first-seed", type=int, default=0, help="first seed (0)")
    paper.add_argument("--contributors", type=int, default=5, help="contributors (5)")
    paper.add_argument("--verifiers", type=int, default=3, help="verifiers per seed (3)")
    paper.add_argument("--epochs", type=int, default=10, help="contributors' epochs (10)")
    paper.add_argument("--data-dir", default=None, help="directory of IDX files")
    paper.add_argument("--no-cache", action="store_true", help="retrain, ignore the cache")
    paper.add_argument(
        "--threads",
        type=int,
        default=None,
        help="torch CPU threads (default: torch's choice; use 1 when other processes share "
        "the cores, or the many small fusion steps slow down badly)",
    )
    paper.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from sim.errors import ConfigError
    from sim.learning.config import TrainConfig
    from sim.learning.device import torch_threads
    from sim.learning.paper import PaperSetup, run_paper, summarise, write_paper
    from sim.learning.training import TrainingCache

    try:
        setup = PaperSetup(
            dataset=args.dataset,
            data_dir=args.data_dir,
            contributors=args.contributors,
            verifiers=args.verifiers,
            seeds=args.seeds,
            first_seed=args.first_seed,
            training=TrainConfig(epochs=args.epochs),
        )
    except ValueError as err:
        raise ConfigError(f"--{str(err).replace('_', '-')}") from err
    if args.threads is not None and args.threads < 1:
        raise ConfigError(f"--threads: expected >= 1, got {args.threads}")
    out = args.out if args.out is not None else Path("results") / f"paper-{args.dataset}"
    cache = None if args.no_cache else TrainingCache()
    with torch_threads(args.threads):
        result = run_paper(setup, cache=cache, log=print)
    paths = write_paper(result, out)
    print()
    print(summarise(result))
    print()
    for path in paths:
        print(f"wrote {path}")
    return 0
