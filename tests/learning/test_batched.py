"""Batched training (``training.batched``): stacked models, each as if trained alone."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from sim.learning.batched import fit_batched, train_many
from sim.learning.config import DataConfig, ModelConfig, TrainConfig
from sim.learning.datasets import Dataset, synthetic
from sim.learning.features import LabelledData
from sim.learning.partition import partition
from sim.learning.safety import load_model
from sim.learning.training import TrainingCache, TrainRequest, accuracy, fit, train
from sim.learning_service import LearningService
from sim.rng import RngStreams
from sim.runner import resolve

MLP = ModelConfig(architecture="mlp", hidden=(32,))
CNN = ModelConfig(channels=(4, 8), hidden=(16,))
BATCHED = TrainConfig(epochs=2, batch_size=32, lr=1e-2, device="cpu", batched=True)


@pytest.fixture(scope="module")
def data() -> Dataset:
    return synthetic(1500)


def requests(data: Dataset, model: ModelConfig, n: int, **changes: Any) -> list[TrainRequest]:
    """``n`` requests on disjoint 240 + 60 sample shards; the third flips 30 % of labels."""
    out = []
    for i in range(n):
        start = i * 300
        train, validation = np.arange(start, start + 240), np.arange(start + 240, start + 300)
        flip = 0.3 if i == 2 else 0.0
        out.append(TrainRequest(data.fingerprint, train, validation, model, BATCHED, i, flip))
    return [dataclasses.replace(r, **changes) for r in out]


def one_at_a_time(request: TrainRequest) -> TrainRequest:
    return dataclasses.replace(
        request, training=dataclasses.replace(request.training, batched=False)
    )


def test_an_mlp_is_the_same_whatever_shares_its_batch(data: Dataset) -> None:
    reqs = requests(data, MLP, 5)
    together = train_many(reqs, data)
    alone = [train_many([r], data)[0] for r in reqs]
    pair = train_many(reqs[3:1:-1], data)  # in another order, with another mate
    assert [a.weights for a in alone] == [t.weights for t in together]
    assert [p.weights for p in pair] == [alone[3].weights, alone[2].weights]
    assert len({t.weights for t in together}) == 5
    assert all(t.key == r.key() for t, r in zip(together, reqs, strict=True))
    load_model(together[0].weights, MLP)


def test_batched_keys_never_alias_one_at_a_time_ones(data: Dataset) -> None:
    request = requests(data, MLP, 1)[0]
    sequential = one_at_a_time(request)
    assert request.batched and not sequential.batched
    assert request.key() != sequential.key()
    # the switch adds a key component only when on: one-at-a-time keys are as before it
    untrained = dataclasses.replace(request, training=dataclasses.replace(BATCHED, epochs=0))
    assert not untrained.batched
    assert untrained.key() == one_at_a_time(untrained).key()


def test_one_stacked_model_draws_what_it_would_alone(data: Dataset) -> None:
    """Same initial weights, label flips and shuffles: only the rounding differs."""
    for request in requests(data, MLP, 3)[1:]:
        (stacked,), processed = fit_batched([request], data, torch.device("cpu"))
        alone, processed_alone = fit(one_at_a_time(request), data, torch.device("cpu"))
        assert processed == processed_alone == 240 * 2
        theirs = alone.state_dict()
        for name, mine in stacked.state_dict().items():
            assert torch.allclose(mine, theirs[name], atol=1e-4), name


def test_a_cnn_batch_repeats_and_is_keyed_by_its_members(data: Dataset) -> None:
    reqs = requests(data, CNN, 3, training=dataclasses.replace(BATCHED, epochs=1))
    first = train_many(reqs[:2], data)
    assert [r.weights for r in train_many(reqs[1::-1], data)] == [
        first[1].weights,
        first[0].weights,
    ]
    other = train_many([reqs[0], reqs[2]], data)[0]
    assert other.key != first[0].key != reqs[0].key()


def test_the_cache_returns_what_was_trained(data: Dataset, tmp_path: Path) -> None:
    reqs = requests(data, CNN, 3, training=dataclasses.replace(BATCHED, epochs=1))
    cache = TrainingCache(tmp_path)
    trained = train_many(reqs, data, cache)
    assert (cache.hits, cache.misses) == (0, 3)
    again = train_many(reqs, data, cache)
    assert (cache.hits, cache.misses) == (3, 3)
    assert [a.weights for a in again] == [t.weights for t in trained]
    assert all(a.from_cache for a in again)
    # a chunk-keyed model with one entry lost: the whole chunk is trained again, same bytes
    (lost,) = tmp_path.glob(f"*/{trained[1].key}.json")
    lost.unlink()
    assert [a.weights for a in train_many(reqs, data, cache)] == [t.weights for t in trained]


def test_batched_and_one_at_a_time_accuracy_agree_on_mnist(mnist5k: Dataset) -> None:
    """A cheap version of BENCHMARKS.md's comparison: 8 MLPs on IID shards of mnist-5k, held-
    out accuracy of each way within half a point on average."""
    split = partition(
        mnist5k, 8, DataConfig(shard_size=300, test_size=1000), np.random.default_rng(3)
    )
    config = TrainConfig(epochs=3, batch_size=32, lr=3e-3, device="cpu", batched=True)
    reqs = [
        TrainRequest.for_shard(mnist5k, shard, MLP, config, seed=i)
        for i, shard in enumerate(split.shards)
    ]
    test = LabelledData.from_indices(mnist5k, split.test)

    def held_out(weights: bytes) -> float:
        return accuracy(load_model(weights, MLP), test.x, test.y)

    batched = [held_out(t.weights) for t in train_many(reqs, mnist5k)]
    sequential = [held_out(train(one_at_a_time(r), mnist5k).weights) for r in reqs]
    assert np.mean(sequential) > 0.6  # chance is 0.1
    assert abs(np.mean(batched) - np.mean(sequential)) < 0.005


TINY = Path(__file__).resolve().parents[1] / "data" / "tiny.toml"


def service(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *overrides: str) -> LearningService:
    monkeypatch.setenv("BAASIM_CACHE", str(tmp_path))
    mlp = ["model.architecture='mlp'", "model.hidden=[16]", "training.epochs=1"]
    return LearningService(resolve(TINY, [*mlp, *overrides]), RngStreams(0))


def test_a_run_trains_what_was_announced_as_one_batch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    learning = service(tmp_path, monkeypatch, "training.batched=true")
    learning.expect(0, 10)
    learning.expect(1, 11, label_flip_rate=0.5)
    first = learning.train(0, 10)
    cache = learning._training_cache()
    assert (cache.hits, cache.misses) == (0, 2)  # both trained when the first was needed
    poisoned = learning.train(1, 11, label_flip_rate=0.5)
    assert cache.misses == 2 and poisoned.weights != first.weights
    again = learning.train(0, 10)  # a second task of the same contributor: from the cache
    assert again.weights == first.weights and again.from_cache
    alone = learning.train(2, 12)  # not announced: a batch of its own
    assert cache.misses == 3 and alone.key != first.key


def test_announcing_changes_nothing_by_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    learning = service(tmp_path, monkeypatch)
    learning.expect(0, 10)
    assert not learning._pending and learning._partition is None  # not even the data split
    trained = learning.train(0, 10)
    assert trained.key == learning._request(0, 10, 0.0, None).key()
