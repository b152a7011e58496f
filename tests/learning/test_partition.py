"""Partitions: disjoint index sets of the promised sizes, a function of the generator state."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from sim.errors import ConfigError, DataError
from sim.learning.config import DataConfig
from sim.learning.datasets import Dataset
from sim.learning.partition import Partition, partition


def split(dataset: Dataset, n: int = 5, seed: int = 0, **kw: Any) -> Partition:
    return partition(dataset, n, DataConfig(**kw), np.random.default_rng(seed))


def assert_disjoint(p: Partition) -> None:
    joined = np.concatenate(p.all_indices())
    assert len(np.unique(joined)) == len(joined)


@pytest.mark.parametrize("kind", ["iid", "dirichlet", "by_label"])
def test_index_sets_are_disjoint_and_sized(mnist5k: Dataset, kind: str) -> None:
    p = split(mnist5k, partition=kind, shard_size=300, verification_size=700, test_size=800)
    assert_disjoint(p)
    assert len(p.verification) == 700 and len(p.test) == 800
    assert [len(s) for s in p.shards] == [300] * 5
    assert all(len(s.validation) == 60 and len(s.train) == 240 for s in p.shards)
    assert all(not s.train.flags.writeable for s in p.shards)


def test_default_shards_split_the_rest_equally(mnist5k: Dataset) -> None:
    p = split(mnist5k, n=3)
    assert [len(s) for s in p.shards] == [1000] * 3
    assert_disjoint(p)


def test_per_contributor_sizes(mnist5k: Dataset) -> None:
    p = split(mnist5k, n=3, shard_size=(100, 200, 50))
    assert [len(s) for s in p.shards] == [100, 200, 50]
    with pytest.raises(ConfigError, match=r"shard_size: expected 3 sizes"):
        split(mnist5k, n=3, shard_size=(100, 200))


def test_same_generator_state_same_partition(mnist5k: Dataset) -> None:
    for kind in ("iid", "dirichlet", "by_label"):
        a, b = split(mnist5k, seed=3, partition=kind), split(mnist5k, seed=3, partition=kind)
        assert all(
            np.array_equal(x, y) for x, y in zip(a.all_indices(), b.all_indices(), strict=True)
        )
    c = split(mnist5k, seed=4)
    assert not np.array_equal(split(mnist5k, seed=3).shards[0].train, c.shards[0].train)


def test_by_label_shards_hold_only_their_labels(mnist5k: Dataset) -> None:
    p = split(mnist5k, partition="by_label", labels_per_contributor=2)
    labels = mnist5k.labels()
    for i, shard in enumerate(p.shards):
        held = set(np.unique(labels[np.concatenate([shard.train, shard.validation])]).tolist())
        assert held == {2 * i, 2 * i + 1}
    assert_disjoint(p)


def test_small_dirichlet_alpha_skews_labels(mnist5k: Dataset) -> None:
    labels = mnist5k.labels()

    def top_share(p: Partition) -> float:
        shares = [np.bincount(labels[s.train], minlength=10).max() / len(s.train) for s in p.shards]
        return float(np.mean(shares))

    skewed = split(mnist5k, partition="dirichlet", dirichlet_alpha=0.05, shard_size=400)
    even = split(mnist5k, partition="dirichlet", dirichlet_alpha=1000.0, shard_size=400)
    assert top_share(skewed) > 0.5
    assert top_share(even) < 0.2


def test_asking_for_too_much_data_is_an_error(mnist5k: Dataset) -> None:
    # shards too large for the data set are a configuration error (DataConfig.shard_sizes)
    with pytest.raises(ConfigError, match="need 5000 samples but mnist-5k has 3000 left"):
        split(mnist5k, shard_size=1000)
    with pytest.raises(DataError, match="leaves nothing"):
        split(mnist5k, verification_size=2500, test_size=2500)
