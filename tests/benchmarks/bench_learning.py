"""Benchmark of the learning half (not collected by pytest; run it as a script).

    .venv/bin/python tests/benchmarks/bench_learning.py [--threads N] [--rounds R]

1. Training throughput: ``sim.learning.training.train`` (no cache: gathers the shard,
   builds the seeded model, trains, evaluates, serialises) against a plain PyTorch loop
   over the same model, data, batch size and optimiser, measured alternately in this
   process; samples/s and their ratio (target >= 0.95).
2. A verifier's work on 5 CNNs trained on mnist-5k: fusing all 5 (features cold and
   warm), and exact Shapley values (31 heads), for both strategies; plus the same 31
   heads trained one at a time, to show what training them together saves.
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import tempfile
import time
from collections.abc import Callable

import numpy as np
import torch
from torch.nn import functional

from sim.learning.config import (
    ContributionConfig,
    ContributionMethod,
    DataConfig,
    FusionConfig,
    ModelConfig,
    TrainConfig,
)
from sim.learning.datasets import Dataset, load_dataset
from sim.learning.evaluation import SubsetFusion, evaluate_submissions
from sim.learning.features import FeatureCache, LabelledData
from sim.learning.models import build_model
from sim.learning.partition import partition
from sim.learning.safety import load_model
from sim.learning.training import TrainingCache, TrainRequest, train

MODEL = ModelConfig()
TRAINING = TrainConfig(epochs=2, batch_size=64, lr=1e-3, device="cpu")


def plain_loop(dataset: Dataset, indices: np.ndarray, seed: int) -> int:
    """The reference: a textbook PyTorch training loop on the same model and data."""
    model = build_model(MODEL, 10, seed=seed)
    rows = torch.from_numpy(indices)
    x, y = dataset.x[rows], dataset.y[rows]
    optimiser = torch.optim.Adam(model.parameters(), lr=TRAINING.lr)
    generator = torch.Generator().manual_seed(seed)
    for _ in range(TRAINING.epochs):
        order = torch.randperm(len(y), generator=generator)
        for start in range(0, len(y), TRAINING.batch_size):
            batch = order[start : start + TRAINING.batch_size]
            loss = functional.cross_entropy(model(x[batch]), y[batch])
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
    return len(y) * TRAINING.epochs


def timed(run: Callable[[], int]) -> float:
    """Samples per second of one call of ``run`` (which returns the samples processed)."""
    start = time.perf_counter()
    samples = run()
    return samples / (time.perf_counter() - start)


def bench_training(dataset: Dataset, rounds: int) -> None:
    order = np.random.default_rng(0).permutation(len(dataset))
    train_rows, validation_rows = order[:3000], order[3000:3200]
    request = TrainRequest(
        dataset.fingerprint, train_rows, validation_rows, MODEL, TRAINING, seed=1
    )

    def ours() -> int:
        return train(request, dataset).samples_processed

    def plain() -> int:
        return plain_loop(dataset, train_rows, seed=1)

    ours(), plain()  # warm-up: allocator, kernels
    ours_rates, plain_rates = [], []
    for _ in range(rounds):
        ours_rates.append(timed(ours))
        plain_rates.append(timed(plain))
    a, b = statistics.median(ours_rates), statistics.median(plain_rates)
    print(f"training, {len(train_rows)} samples x {TRAINING.epochs} epochs, batch 64, Adam")
    print(f"  sim.learning.train   {a:8.0f} samples/s  (median of {rounds})")
    print(f"  plain PyTorch loop   {b:8.0f} samples/s")
    print(f"  ratio                {a / b:8.3f}")


def bench_verifier(dataset: Dataset) -> None:
    split = partition(dataset, 5, DataConfig(), np.random.default_rng(0))
    with tempfile.TemporaryDirectory() as tmp:
        cache = TrainingCache(tmp)
        trained = [
            train(
                TrainRequest.for_shard(
                    dataset, shard, MODEL, dataclasses.replace(TRAINING, epochs=10), i
                ),
                dataset,
                cache,
            )
            for i, shard in enumerate(split.shards)
        ]
    models = [load_model(t.weights, MODEL) for t in trained]
    verification = LabelledData.from_indices(dataset, split.verification)
    print(f"verifier, 5 CNNs, {len(verification)} verification samples (half fit, half held out)")
    for strategy in ("I", "II"):
        fusion = FusionConfig(strategy=strategy, device="cpu")
        features = FeatureCache()

        def evaluate(
            method: ContributionMethod,
            features: FeatureCache = features,
            fusion: FusionConfig = fusion,
        ) -> float:
            start = time.perf_counter()
            evaluate_submissions(
                models, verification, fusion, ContributionConfig(method=method),
                seed=3, features=features,
            )  # fmt: skip
            return time.perf_counter() - start

        cold = evaluate("individual")
        warm = evaluate("individual")
        shapley = evaluate("shapley")
        one_by_one = SubsetFusion(models, verification, fusion, 3, features=features)
        start = time.perf_counter()
        for mask in range(1, 32):
            one_by_one.value(frozenset(i for i in range(5) if mask >> i & 1))
        sequential = time.perf_counter() - start
        print(f"  strategy {strategy}: fuse 5 models {cold:.3f} s (features cold), "
              f"{warm:.3f} s (warm); exact Shapley n=5 (31 heads) {shapley:.3f} s; "
              f"the 31 heads one at a time {sequential:.3f} s")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--rounds", type=int, default=5, help="alternating timing rounds")
    args = parser.parse_args()
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, cpu")
    dataset = load_dataset("mnist-5k")
    bench_training(dataset, args.rounds)
    bench_verifier(dataset)


if __name__ == "__main__":
    main()
