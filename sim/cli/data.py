"""``baasim data``: fetch data sets into the cache and describe what a data set holds."""

from __future__ import annotations

import argparse
from typing import Any


def register(sub: Any) -> None:
    p = sub.add_parser("data", help="fetch and inspect the learning data sets")
    actions = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    fetch = actions.add_parser("fetch", help="download a data set once into the cache")
    fetch.add_argument("name", choices=["mnist"], help="data set to fetch")
    fetch.add_argument("--force", action="store_true", help="fetch again even if cached")
    fetch.set_defaults(func=run_fetch)
    info = actions.add_parser("info", help="load a data set and print its size and source")
    info.add_argument("name", help="mnist, mnist-5k, fashion-mnist or synthetic")
    info.add_argument("--data-dir", default=None, help="directory of IDX files")
    info.set_defaults(func=run_info)


def run_fetch(args: argparse.Namespace) -> int:
    from sim.learning.fetch import fetch_mnist

    path = fetch_mnist(force=args.force, log=print)
    print(path)
    return 0


def run_info(args: argparse.Namespace) -> int:
    from sim.learning.datasets import load_dataset

    dataset = load_dataset(args.name, args.data_dir)
    counts = dataset.y.bincount(minlength=dataset.n_classes).tolist()
    print(f"{dataset.name}: {len(dataset)} images 28x28, {dataset.n_classes} classes")
    print(f"per class: {counts}")
    print(f"source: {dataset.source}")
    print(f"fingerprint: {dataset.fingerprint}")
    return 0
