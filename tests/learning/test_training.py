"""Training: real learning, seeded and repeatable, with a content-keyed on-disk cache."""

from __future__ import annotations

import dataclasses
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from sim.errors import DataError
from sim.learning.config import ModelConfig, TrainConfig
from sim.learning.datasets import Dataset, synthetic
from sim.learning.models import build_model
from sim.learning.safety import load_model, to_bytes
from sim.learning.training import (
    TrainingCache,
    TrainRequest,
    _seeds,
    train,
)

MODEL = ModelConfig(channels=(4, 8), hidden=(16,))
FAST = TrainConfig(epochs=1, batch_size=32, lr=1e-2, device="cpu")


@pytest.fixture(scope="module")
def data() -> Dataset:
    return synthetic(600)


def request(data: Dataset, **changes: Any) -> TrainRequest:
    base = TrainRequest(
        data.fingerprint, np.arange(0, 400), np.arange(400, 600), MODEL, FAST, seed=5
    )
    return dataclasses.replace(base, **changes)


def test_training_learns_and_counts_its_work(data: Dataset) -> None:
    result = train(request(data, training=dataclasses.replace(FAST, epochs=3)), data)
    assert result.validation_accuracy > 0.5  # chance is 0.1
    assert result.samples_processed == 400 * 3
    assert not result.from_cache
    load_model(result.weights, MODEL)  # a valid submission


def test_same_request_same_bytes_and_global_rng_untouched(data: Dataset) -> None:
    before = torch.random.get_rng_state()
    a, b = train(request(data), data), train(request(data), data)
    assert torch.equal(torch.random.get_rng_state(), before)
    assert a.weights == b.weights and a.key == b.key
    assert train(request(data, seed=6), data).weights != a.weights


def test_zero_epochs_gives_the_seeded_start(data: Dataset) -> None:
    result = train(request(data, training=dataclasses.replace(FAST, epochs=0)), data)
    init_seed, _ = _seeds(5)
    assert result.weights == to_bytes(build_model(MODEL, 10, seed=init_seed))
    assert result.samples_processed == 0


def test_label_flipping_poisons_the_model(data: Dataset) -> None:
    honest = train(request(data, training=dataclasses.replace(FAST, epochs=3)), data)
    poisoned = train(
        request(data, training=dataclasses.replace(FAST, epochs=3), label_flip_rate=1.0), data
    )
    assert poisoned.validation_accuracy < 0.2 < honest.validation_accuracy


def test_key_names_everything_that_determines_the_result(data: Dataset) -> None:
    key = request(data).key()
    variants = [
        request(data, seed=6),
        request(data, train_indices=np.arange(1, 400)),
        request(data, validation_indices=np.arange(401, 600)),
        request(data, model=dataclasses.replace(MODEL, hidden=(17,))),
        request(data, training=dataclasses.replace(FAST, lr=0.02)),
        request(data, label_flip_rate=0.5),
        request(data, dataset="0" * 64),
    ]
    assert len({key, *(v.key() for v in variants)}) == len(variants) + 1
    # where it runs is part of the key, the device *setting* is not
    assert (
        request(data, training=dataclasses.replace(FAST, device="auto")).key(torch.device("cpu"))
        == key
    )


def test_second_identical_request_is_a_cache_read(data: Dataset, tmp_path: Path) -> None:
    cache = TrainingCache(tmp_path)
    first = train(request(data), data, cache)
    second = train(request(data), data, cache)
    assert second.from_cache and not first.from_cache
    assert second.weights == first.weights
    assert second.validation_accuracy == first.validation_accuracy
    assert second.samples_processed == first.samples_processed
    assert (cache.hits, cache.misses) == (1, 1)
    assert not list(tmp_path.rglob("*.tmp"))  # atomic writes leave no temporary files
    other_process = TrainingCache(tmp_path)  # a second process sharing the directory
    assert other_process.get(first.key) == dataclasses.replace(first, from_cache=True)


def test_corrupt_cache_entry_is_a_miss_and_is_rewritten(data: Dataset, tmp_path: Path) -> None:
    cache = TrainingCache(tmp_path)
    first = train(request(data), data, cache)
    (weights,) = tmp_path.rglob("*.safetensors")
    weights.write_bytes(b"corrupt")
    again = train(request(data), data, cache)
    assert not again.from_cache and again.weights == first.weights
    assert train(request(data), data, cache).from_cache


def test_default_cache_lives_under_baasim_cache(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("BAASIM_CACHE", str(tmp_path))
    assert TrainingCache().directory == tmp_path / "models"


def test_request_for_another_data_set_is_refused(data: Dataset) -> None:
    with pytest.raises(DataError, match="training request names data set"):
        train(request(data, dataset="f" * 64), data)


def test_bad_flip_rate_is_refused(data: Dataset) -> None:
    with pytest.raises(ValueError, match="label_flip_rate"):
        request(data, label_flip_rate=1.5)


def test_concurrent_requests_for_one_model_train_it_once(data: Dataset, tmp_path: Path) -> None:
    """Two workers of a sweep miss the same entry at once: one trains, the other waits, reads."""
    slow = request(data, training=dataclasses.replace(FAST, epochs=4))
    start = threading.Barrier(2)
    results: list[Any] = [None, None]

    def worker(i: int) -> None:
        cache = TrainingCache(tmp_path)  # each its own cache object, like separate processes
        start.wait()
        results[i] = (train(slow, data, cache), cache.misses)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    (a, a_missed), (b, b_missed) = results
    assert sorted([a.from_cache, b.from_cache]) == [False, True]
    assert a_missed + b_missed == 1
    assert a.weights == b.weights
