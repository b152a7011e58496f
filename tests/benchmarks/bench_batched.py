"""Benchmark of batched training (``training.batched``; not collected by pytest).

    .venv/bin/python tests/benchmarks/bench_batched.py [--threads N] [--rounds R]
        [--models M] [--scenario scenarios/churn.toml] [--accuracy-models 20]

1. Throughput: M (default 64) tiny models of the scale check (``tests/benchmarks/scale.toml``:
   MLP 784-16-10, 50-sample shards of which 40 train, 2 epochs, batch 32, Adam at 0.01) on
   IID shards of mnist-5k, trained one at a time (``training.train``) and as one batch
   (``batched.train_many``), both without a cache and both doing the whole job (gather,
   initialise, train, validate, serialise); measured alternately in this process, R rounds,
   medians. Prints samples/s of each and their ratio (target >= 5). The same for 5 epochs
   on 60-sample shards (more steps per model).
2. Accuracy: the shipped scenario's own contributors (its data split, model, training and
   each contributor's run seed, run seeds 0, 1, … until enough models), trained both ways;
   held-out test accuracy of each model; prints both means and their difference (target:
   within 0.5 points over 20 models).
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import time
from collections.abc import Callable

import numpy as np
import torch

from sim.learning.batched import train_many
from sim.learning.config import DataConfig, ModelConfig, TrainConfig
from sim.learning.datasets import Dataset, load_dataset
from sim.learning.features import LabelledData
from sim.learning.partition import partition
from sim.learning.safety import load_model
from sim.learning.training import TrainRequest, accuracy, train
from sim.rng import RngStreams
from sim.scenario import load_scenario

SCALE_MLP = ModelConfig(architecture="mlp", hidden=(16,))
SCALE_TRAINING = TrainConfig(epochs=2, batch_size=32, lr=0.01, device="cpu")


def requests(data: Dataset, n: int, shard: int, training: TrainConfig) -> list[TrainRequest]:
    split = partition(
        data,
        n,
        DataConfig(shard_size=shard, verification_size=200, test_size=200),
        np.random.default_rng(0),
    )
    return [
        TrainRequest.for_shard(data, s, SCALE_MLP, training, seed=i)
        for i, s in enumerate(split.shards)
    ]


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def throughput(data: Dataset, n: int, shard: int, rounds: int, epochs: int = 2) -> None:
    training = dataclasses.replace(SCALE_TRAINING, epochs=epochs)
    single = requests(data, n, shard, training)
    batched = requests(data, n, shard, dataclasses.replace(training, batched=True))
    samples = sum(len(r.train_indices) for r in single) * epochs
    one, many = [], []
    for _ in range(rounds):
        one.append(timed(lambda: [train(r, data) for r in single]))
        many.append(timed(lambda: train_many(batched, data)))
    t_one, t_many = statistics.median(one), statistics.median(many)
    print(
        f"{n} MLPs 784-16-10, {shard}-sample shards ({len(single[0].train_indices)} train), "
        f"{epochs} epochs: one at a time {t_one:.3f} s ({samples / t_one:,.0f} samples/s), "
        f"batched {t_many:.3f} s ({samples / t_many:,.0f} samples/s): "
        f"{t_one / t_many:.1f}x"
    )


def held_out(weights: bytes, model: ModelConfig, test: LabelledData) -> float:
    return accuracy(load_model(weights, model), test.x, test.y)


def accuracy_distribution(path: str, wanted: int) -> None:
    scenario = load_scenario(path)
    data = load_dataset(scenario.data.dataset, scenario.data.data_dir)
    n = scenario.population.contributors
    plain: list[float] = []
    stacked: list[float] = []
    seed = 0
    started = time.perf_counter()
    while len(plain) < wanted:
        streams = RngStreams(seed)
        split = partition(data, n, scenario.data, streams.numpy("partition"))
        test = LabelledData.from_indices(data, split.test)
        take = min(n, wanted - len(plain))
        seeds = [streams.integer_seed("train", i) for i in range(take)]
        reqs = [
            TrainRequest.for_shard(data, split.shards[i], scenario.model, scenario.training, s)
            for i, s in enumerate(seeds)
        ]
        on = dataclasses.replace(scenario.training, batched=True)
        batch = train_many([dataclasses.replace(r, training=on) for r in reqs], data)

        plain += [held_out(train(r, data).weights, scenario.model, test) for r in reqs]
        stacked += [held_out(t.weights, scenario.model, test) for t in batch]
        seed += 1
    a, b = np.array(plain), np.array(stacked)
    print(
        f"{scenario.name}: {wanted} contributors' models (run seeds 0-{seed - 1}), held-out "
        f"accuracy one at a time {a.mean():.4f} (sd {a.std(ddof=1):.4f}), batched "
        f"{b.mean():.4f} (sd {b.std(ddof=1):.4f}); difference of means "
        f"{100 * (b.mean() - a.mean()):+.2f} points; largest per-model difference "
        f"{100 * np.abs(a - b).max():.2f} points ({time.perf_counter() - started:.0f} s)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--models", type=int, default=64)
    parser.add_argument("--scenario", default="scenarios/churn.toml")
    parser.add_argument("--accuracy-models", type=int, default=20)
    parser.add_argument("--skip-accuracy", action="store_true")
    parser.add_argument("--skip-throughput", action="store_true")
    args = parser.parse_args()
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    data = load_dataset("mnist-5k")
    if not args.skip_throughput:
        throughput(data, args.models, 50, args.rounds)
        throughput(data, args.models, 60, args.rounds, epochs=5)
    if not args.skip_accuracy:
        accuracy_distribution(args.scenario, args.accuracy_models)


if __name__ == "__main__":
    main()
