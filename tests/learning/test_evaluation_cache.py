"""The evaluation cache gives exactly what a fresh evaluation would, for the same inputs only."""

from __future__ import annotations

import dataclasses
import threading
import time
from pathlib import Path
from typing import Any

import torch

from sim.learning.config import ContributionConfig, FusionConfig
from sim.learning.evaluation import Evaluation, evaluate_submissions
from sim.learning.evaluation_cache import EvaluationCache, evaluation_key
from sim.learning.features import LabelledData

from .conftest import Trained

FUSION = FusionConfig(phase1_epochs=3, phase2_epochs=3, device="cpu")
LOO = ContributionConfig(method="leave_one_out")


def test_a_cached_evaluation_equals_the_fresh_one(trained: Trained, tmp_path: Path) -> None:
    data = LabelledData.from_indices(trained.dataset, trained.split.verification)
    key = evaluation_key(trained.models, data, FUSION, LOO, 3, None)
    fresh = evaluate_submissions(trained.models, data, FUSION, LOO, 3)
    EvaluationCache(tmp_path).put(key, fresh)
    cache = EvaluationCache(tmp_path)  # a new process would see only the file
    assert cache.get(key) == fresh
    assert (cache.hits, cache.misses) == (1, 0)


def test_sampled_shapley_standard_errors_survive_the_cache(
    trained: Trained, tmp_path: Path
) -> None:
    data = LabelledData.from_indices(trained.dataset, trained.split.verification)
    sampled = ContributionConfig(method="shapley", shapley_exact_max=1, shapley_permutations=12)
    key = evaluation_key(trained.models, data, FUSION, sampled, 3, None)
    fresh = evaluate_submissions(trained.models, data, FUSION, sampled, 3)
    assert fresh.standard_errors is not None
    EvaluationCache(tmp_path).put(key, fresh)
    assert EvaluationCache(tmp_path).get(key) == fresh


def test_the_key_covers_every_input(trained: Trained) -> None:
    data = LabelledData.from_indices(trained.dataset, trained.split.verification)
    other = LabelledData.from_indices(trained.dataset, trained.split.verification[:-1])
    base = evaluation_key(trained.models, data, FUSION, LOO, 3, None)
    variants = [
        evaluation_key(trained.models[::-1], data, FUSION, LOO, 3, None),
        evaluation_key(trained.models[:3], data, FUSION, LOO, 3, None),
        evaluation_key(trained.models, other, FUSION, LOO, 3, None),
        evaluation_key(
            trained.models, data, FusionConfig(strategy="I", device="cpu"), LOO, 3, None
        ),
        evaluation_key(trained.models, data, FUSION, ContributionConfig(), 3, None),
        evaluation_key(
            trained.models, data, dataclasses.replace(FUSION, structured=True), LOO, 3, None
        ),
        evaluation_key(trained.models, data, FUSION, LOO, 4, None),
        evaluation_key(trained.models, data, FUSION, LOO, 3, other),
    ]
    assert len({base, *variants}) == len(variants) + 1
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1 if before != 1 else 2)
        assert evaluation_key(trained.models, data, FUSION, LOO, 3, None) != base
    finally:
        torch.set_num_threads(before)


def test_a_damaged_entry_is_a_miss(tmp_path: Path) -> None:
    cache = EvaluationCache(tmp_path)
    path = tmp_path / "ab" / ("ab" + "0" * 62 + ".json")
    path.parent.mkdir()
    path.write_text("{not json")
    assert cache.get("ab" + "0" * 62) is None
    assert cache.misses == 1


def test_concurrent_requests_for_one_evaluation_compute_it_once(
    trained: Trained, tmp_path: Path
) -> None:
    """Two sweep workers miss the same entry at once: one computes, the other waits, reads."""
    data = LabelledData.from_indices(trained.dataset, trained.split.verification)
    key = evaluation_key(trained.models, data, FUSION, LOO, 3, None)
    start = threading.Barrier(2)
    results: list[Any] = [None, None]

    def compute() -> Evaluation:
        time.sleep(0.3)  # long enough that the other caller arrives while this one holds it
        return evaluate_submissions(trained.models, data, FUSION, LOO, 3)

    def worker(i: int) -> None:
        cache = EvaluationCache(tmp_path)  # each its own cache object, like separate processes
        start.wait()
        results[i] = (cache.get_or_compute(key, compute), cache.computed)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    (a, a_computed), (b, b_computed) = results
    assert sorted([a_computed, b_computed]) == [0, 1]
    assert a == b
    assert EvaluationCache(tmp_path).get(key) == a
