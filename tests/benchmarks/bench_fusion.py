"""Benchmark of structured fused-head training (not collected by pytest; run it as a script).

    .venv/bin/python tests/benchmarks/bench_fusion.py [--models 55] [--width 16] [--rounds 5]

Trains one Strategy II head of ``--models`` models of feature width ``--width`` (10 classes,
1,000 fitting samples, 5 + 5 epochs, batch 128: the cold scale check's heads), dense and
with ``fusion.structured``, alternately in this process, one thread. Prints the median CPU
seconds per head of each, their ratio (> 1: structured is faster) and the largest difference
between the two heads' parameters (float32 rounding; both start and train identically). The
features are seeded random numbers: the cost of a head does not depend on their values.
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import time

import torch
from torch import nn

from sim.learning.config import FusionConfig
from sim.learning.fusion import HeadBatch, train_heads

SAMPLES, CLASSES = 1000, 10


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=55)
    parser.add_argument("--width", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(1)
    generator = torch.Generator().manual_seed(0)
    blocks = [torch.randn(SAMPLES, args.width, generator=generator) for _ in range(args.models)]
    y = torch.randint(0, CLASSES, (SAMPLES,), generator=generator)
    outputs = [nn.Linear(args.width, CLASSES) for _ in range(args.models)]
    dense = FusionConfig(phase1_epochs=5, phase2_epochs=5)
    configs = {"dense": dense, "structured": dataclasses.replace(dense, structured=True)}
    members = [tuple(range(args.models))]
    seconds: dict[str, list[float]] = {name: [] for name in configs}
    heads: dict[str, HeadBatch] = {}
    for _ in range(args.rounds + 1):  # the first round warms up (imports, allocations)
        for name, config in configs.items():
            start = time.process_time()
            (heads[name],) = train_heads(blocks, y, outputs, members, [1], config, 7)
            seconds[name].append(time.process_time() - start)
    a, b = heads["dense"], heads["structured"]
    gap = max(
        float((p - q).abs().max()) for p, q in zip(a.parameters(), b.parameters(), strict=True)
    )
    medians = {name: statistics.median(s[1:]) for name, s in seconds.items()}
    print(f"one head of {args.models} models of width {args.width}, {args.rounds} rounds")
    for name, median in medians.items():
        print(f"  {name:10s} {median:.3f} CPU s per head (median)")
    print(f"  ratio dense/structured: {medians['dense'] / medians['structured']:.2f}x")
    print(f"  largest parameter difference: {gap:.2e}")


if __name__ == "__main__":
    main()
