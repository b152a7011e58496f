"""Splitting a data set among contributors, the initiator's verification set and a test set.

The order of draws is fixed, so one ``np.random.Generator`` state gives one partition:
1. a random permutation of all indices; its first ``test_size`` are the held-out test set
   (ground truth only, never given to an agent), the next ``verification_size`` the
   initiator's verification set; the rest is the pool of private data;
2. the pool is dealt into disjoint shards, one per contributor:
   - ``iid``: consecutive runs of the (already random) pool;
   - ``dirichlet``: contributor i draws label proportions p ~ Dirichlet(α·1) and takes that
     many samples of each label (rounded, capped by what is left of the label, the shortfall
     drawn from the labels that remain, in proportion to p);
   - ``by_label``: contributor i holds only labels {(i·k + j) mod C : j < k}, k =
     ``labels_per_contributor``, in equal parts as far as the labels last (with no
     ``shard_size``, each label is split equally among the contributors that hold it);
3. each shard is shuffled and its first ``local_validation_fraction`` kept as the
   contributor's own validation data (at least one sample when the fraction is positive).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from sim.errors import ConfigError, DataError
from sim.learning.config import DataConfig
from sim.learning.datasets import Dataset


def _frozen(indices: np.ndarray) -> np.ndarray:
    out = np.asarray(indices, dtype=np.int64)
    out.setflags(write=False)
    return out


@dataclass(frozen=True, eq=False)
class Shard:
    """One contributor's private data: indices to train on and to validate locally."""

    train: np.ndarray
    validation: np.ndarray

    def __len__(self) -> int:
        return len(self.train) + len(self.validation)


@dataclass(frozen=True, eq=False)
class Partition:
    """Disjoint index sets into one data set (all int64, read-only)."""

    shards: tuple[Shard, ...]
    verification: np.ndarray
    test: np.ndarray

    def all_indices(self) -> list[np.ndarray]:
        """Every index set, shards first (train, validation), then verification and test."""
        sets = [part for shard in self.shards for part in (shard.train, shard.validation)]
        return [*sets, self.verification, self.test]


def partition(
    dataset: Dataset, n_contributors: int, config: DataConfig, rng: np.random.Generator
) -> Partition:
    """Shards for ``n_contributors``, the verification set and the test set of ``dataset``."""
    labels = dataset.labels()
    if n_contributors < 1:
        raise ConfigError(f"n_contributors: expected >= 1, got {n_contributors}")
    reserved = config.test_size + config.verification_size
    if reserved >= len(labels):
        raise DataError(
            f"data: test_size + verification_size = {reserved} leaves nothing of the "
            f"{len(labels)} samples of {dataset.name} for contributors"
        )
    order = rng.permutation(len(labels))
    test = order[: config.test_size]
    verification = order[config.test_size : reserved]
    pool = order[reserved:]
    try:
        sizes = config.shard_sizes(n_contributors, len(labels))
    except ValueError as err:
        raise ConfigError(f"data.{err}") from None
    if config.partition == "iid":
        bounds = np.cumsum([0, *sizes])
        pieces = [pool[a:b] for a, b in itertools.pairwise(bounds)]
    else:
        pieces = _deal_by_label(pool, labels, sizes, config, rng, dataset.n_classes)
    shards = tuple(_split_shard(p, config.local_validation_fraction, rng) for p in pieces)
    return Partition(shards, _frozen(verification), _frozen(test))


def _deal_by_label(
    pool: np.ndarray,
    labels: np.ndarray,
    sizes: list[int],
    config: DataConfig,
    rng: np.random.Generator,
    n_classes: int,
) -> list[np.ndarray]:
    queues = [pool[labels[pool] == c] for c in range(n_classes)]
    taken = np.zeros(n_classes, dtype=np.int64)
    weights = [_label_weights(i, config, rng, n_classes) for i in range(len(sizes))]
    if config.partition == "by_label" and config.shard_size is None:
        # Equal split of each label among the contributors that hold it.
        holders = np.maximum(np.sum([w > 0 for w in weights], axis=0), 1)
        per_label = np.array([len(q) for q in queues]) // holders
        sizes = [int(np.sum(per_label[w > 0])) for w in weights]
    pieces = []
    for i, size in enumerate(sizes):
        available = np.array([len(q) for q in queues]) - taken
        only_weighted = config.partition == "by_label"
        counts = _allocate(size, weights[i], available, only_weighted=only_weighted)
        if counts.sum() < size:
            raise DataError(
                f"data: contributor {i} needs {size} samples of its labels but only "
                f"{counts.sum()} are left ({config.partition} partition); lower shard_size"
            )
        piece = [queues[c][taken[c] : taken[c] + counts[c]] for c in range(n_classes)]
        taken += counts
        pieces.append(np.concatenate(piece))
    return pieces


def _label_weights(
    i: int, config: DataConfig, rng: np.random.Generator, n_classes: int
) -> np.ndarray:
    if config.partition == "dirichlet":
        return rng.dirichlet(np.full(n_classes, config.dirichlet_alpha))
    weights = np.zeros(n_classes)
    k = min(config.labels_per_contributor, n_classes)
    weights[[(i * k + j) % n_classes for j in range(k)]] = 1.0 / k
    return weights


def _allocate(
    size: int, weights: np.ndarray, available: np.ndarray, *, only_weighted: bool
) -> np.ndarray:
    """Counts per label near ``size × weights``, within ``available``, summing to ``size``.

    A shortfall is drawn from labels with room left (only the weighted ones when
    ``only_weighted``), in proportion to their weights, or evenly if those are all zero.
    """
    counts = np.minimum(np.floor(size * weights).astype(np.int64), available)
    open_labels = weights > 0 if only_weighted else np.ones_like(weights, dtype=bool)
    while counts.sum() < size:
        room = (available - counts) * open_labels
        if not room.any():
            break
        share = np.where(room > 0, weights, 0.0)
        share = share / share.sum() if share.sum() > 0 else (room > 0) / (room > 0).sum()
        order = np.argsort(-share, kind="stable")
        missing = size - counts.sum()
        extra = np.minimum(np.ceil(missing * share).astype(np.int64), room)
        for c in order:  # at most n_classes labels: hand out without overshooting
            give = min(extra[c], size - counts.sum())
            counts[c] += give
    return np.asarray(counts, dtype=np.int64)


def _split_shard(piece: np.ndarray, fraction: float, rng: np.random.Generator) -> Shard:
    piece = rng.permutation(piece)
    n_val = round(fraction * len(piece))
    if fraction > 0:
        n_val = min(max(n_val, 1), len(piece) - 1)
    return Shard(train=_frozen(piece[n_val:]), validation=_frozen(piece[:n_val]))
