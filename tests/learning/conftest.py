"""Shared fixtures of the learning tests: real data, small real models trained once."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from sim.learning.config import DataConfig, ModelConfig, TrainConfig
from sim.learning.datasets import Dataset, load_dataset
from sim.learning.models import Net
from sim.learning.partition import Partition, partition
from sim.learning.safety import load_model
from sim.learning.training import TrainedModel, TrainRequest, train

SMALL_MODEL = ModelConfig(channels=(8, 16), hidden=(32,))
QUICK_TRAINING = TrainConfig(epochs=5, lr=1e-2, device="cpu")


@pytest.fixture(scope="session")
def mnist5k() -> Dataset:
    return load_dataset("mnist-5k")


@dataclass(frozen=True)
class Trained:
    dataset: Dataset
    split: Partition
    results: list[TrainedModel]
    models: list[Net]


@pytest.fixture(scope="session")
def trained(mnist5k: Dataset) -> Trained:
    """Four small CNNs, each trained on its own IID shard of mnist-5k (no cache)."""
    config = DataConfig(shard_size=400, verification_size=600, test_size=500)
    split = partition(mnist5k, 4, config, np.random.default_rng(7))
    results = [
        train(TrainRequest.for_shard(mnist5k, shard, SMALL_MODEL, QUICK_TRAINING, seed=i), mnist5k)
        for i, shard in enumerate(split.shards)
    ]
    models = [load_model(r.weights, SMALL_MODEL) for r in results]
    return Trained(mnist5k, split, results, models)
