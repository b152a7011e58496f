"""A verifier's evaluation of real trained models: fused accuracy and contributions."""

from __future__ import annotations

import dataclasses
from typing import Any, Literal

import numpy as np
import pytest
import torch

from sim.learning.config import ContributionConfig, FusionConfig
from sim.learning.evaluation import SubsetFusion, evaluate_submissions, split_rows
from sim.learning.features import FeatureCache, LabelledData, extract_features

FAST = FusionConfig(epochs=10, phase1_epochs=5, phase2_epochs=5, device="cpu")


@pytest.fixture(scope="module")
def sets(trained: Any) -> tuple[LabelledData, LabelledData]:
    return (
        LabelledData.from_indices(trained.dataset, trained.split.verification),
        LabelledData.from_indices(trained.dataset, trained.split.test),
    )


def test_split_rows_is_a_seeded_partition() -> None:
    fit, held = split_rows(100, 0.3, seed=1)
    assert len(held) == 30 and len(fit) == 70
    assert sorted(np.concatenate([fit, held]).tolist()) == list(range(100))
    assert np.array_equal(split_rows(100, 0.3, seed=1)[1], held)
    assert not np.array_equal(split_rows(100, 0.3, seed=2)[1], held)


@pytest.mark.parametrize("strategy", ["I", "II"])
def test_shapley_scores_are_efficient_on_both_sets(
    trained: Any, sets: tuple, strategy: Literal["I", "II"]
) -> None:
    verification, test = sets
    evaluation = evaluate_submissions(
        trained.models, verification, dataclasses.replace(FAST, strategy=strategy),
        ContributionConfig(method="shapley"), seed=3, test=test,
    )  # fmt: skip
    assert evaluation.heads_trained == 2 ** len(trained.models) - 1
    assert evaluation.error_bound is None
    assert evaluation.standard_errors is None  # exact: no sampling error
    for scores in (evaluation.scores, evaluation.test):
        assert scores is not None
        assert len(scores.contributions) == len(trained.models)
        assert sum(scores.contributions) == pytest.approx(
            scores.fused_accuracy - scores.empty_value
        )
        assert 0.5 < scores.fused_accuracy <= 1.0  # real models, real digits
        assert 0.05 < scores.empty_value < 0.2  # the majority label of ten
        assert all(0.5 < a <= 1.0 for a in scores.individual_accuracies)


def test_individual_method_reports_each_models_own_accuracy(trained: Any, sets: tuple) -> None:
    verification, test = sets
    evaluation = evaluate_submissions(
        trained.models, verification, FAST, ContributionConfig(), seed=3, test=test
    )
    assert evaluation.contributions == evaluation.individual_accuracies
    assert evaluation.heads_trained == 1
    assert evaluation.forward_samples == len(trained.models) * len(verification)
    assert evaluation.head_samples == (len(verification) - len(verification) // 2) * 10
    held = split_rows(len(verification), 0.5, 3)[1]
    own = trained.models[0]
    logits = own.output(extract_features(own, verification.x[held], own.output.weight.device))
    expected = float((logits.argmax(1) == verification.y[held]).float().mean())
    assert evaluation.individual_accuracies[0] == pytest.approx(expected)


def test_leave_one_out_matches_subset_values(trained: Any, sets: tuple) -> None:
    verification, _ = sets
    evaluation = evaluate_submissions(
        trained.models, verification, FAST, ContributionConfig(method="leave_one_out"), seed=4
    )
    subsets = SubsetFusion(trained.models, verification, FAST, 4)
    everyone = frozenset(range(len(trained.models)))
    for i, score in enumerate(evaluation.contributions):
        expected = subsets.value(everyone)[0] - subsets.value(everyone - {i})[0]
        assert score == pytest.approx(expected, abs=1e-6)
    assert evaluation.test is None


def test_sampled_shapley_states_its_error_bound(trained: Any, sets: tuple) -> None:
    verification, _ = sets
    config = ContributionConfig(method="shapley", shapley_exact_max=2, shapley_permutations=20)
    evaluation = evaluate_submissions(trained.models, verification, FAST, config, seed=5)
    # few groups: the distribution-free bound is the trivial one; the standard errors are not
    assert evaluation.error_bound is not None and 0 < evaluation.error_bound <= 2
    errors = evaluation.standard_errors
    assert errors is not None and len(errors) == len(trained.models)
    assert all(0 <= e < evaluation.error_bound for e in errors)
    scores = evaluation.scores
    assert sum(scores.contributions) == pytest.approx(scores.fused_accuracy - scores.empty_value)


def test_features_are_computed_once_per_model_and_data(trained: Any, sets: tuple) -> None:
    verification, test = sets
    cache = FeatureCache()
    for seed in (1, 2):
        evaluate_submissions(
            trained.models,
            verification,
            FAST,
            ContributionConfig(),
            seed,
            test=test,
            features=cache,
        )
    n = len(trained.models)
    assert (cache.misses, cache.hits, len(cache)) == (2 * n, 2 * n, 2 * n)


def test_a_duplicate_submission_shares_features_and_no_model_is_fine(
    trained: Any, sets: tuple
) -> None:
    verification, _ = sets
    cache = FeatureCache()
    model = trained.models[0]
    evaluation = evaluate_submissions(
        [model, model], verification, FAST, ContributionConfig(method="shapley"), 0, features=cache
    )
    assert cache.misses == 1
    assert evaluation.contributions[0] == pytest.approx(evaluation.contributions[1])
    nobody = evaluate_submissions([], verification, FAST, ContributionConfig(), 0)
    assert nobody.contributions == () and nobody.fused_accuracy == nobody.scores.empty_value


def test_feature_cache_evicts_least_recently_used(trained: Any, sets: tuple) -> None:
    verification, _ = sets
    one = len(verification) * trained.models[0].feature_width * 4
    cache = FeatureCache(max_bytes=2 * one)
    device = trained.models[0].output.weight.device
    for model in trained.models[:3]:
        cache.features(model, verification, device)
    assert len(cache) == 2
    cache.features(trained.models[2], verification, device)
    assert cache.hits == 1


@pytest.mark.parametrize("method", ["individual", "leave_one_out"])
def test_a_second_evaluation_reads_the_heads_the_first_trained(
    trained: Any, sets: tuple, method: Literal["individual", "leave_one_out"], monkeypatch: Any
) -> None:
    import sim.learning.evaluation as evaluation_module
    from sim.learning.evaluation import HeadMemo
    from sim.learning.fusion import train_heads

    verification, test = sets
    config = ContributionConfig(method=method)
    for i, m in enumerate(trained.models):
        monkeypatch.setattr(m, "fingerprint", f"model-{i}", raising=False)
    fresh = evaluate_submissions(trained.models, verification, FAST, config, seed=4, test=test)
    calls: list[int] = []
    real = train_heads

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(evaluation_module, "train_heads", counted)
    memo = HeadMemo()
    committee = evaluate_submissions(trained.models, verification, FAST, config, 4, heads=memo)
    trained_once = len(calls)
    oracle = evaluate_submissions(
        trained.models, verification, FAST, config, 4, test=test, heads=memo
    )
    assert len(calls) == trained_once  # the oracle trained no head
    assert oracle == fresh  # the same evaluation, test set included
    assert committee.scores == fresh.scores
    other_seed = evaluate_submissions(trained.models, verification, FAST, config, 5, heads=memo)
    assert len(calls) > trained_once and other_seed.heads_trained == fresh.heads_trained


def test_the_memo_keeps_what_passed_through_it_only_within_its_bound() -> None:
    from sim.learning.evaluation import HeadMemo
    from sim.learning.fusion import HeadBatch

    def batch(k: int) -> HeadBatch:
        return HeadBatch([(k,)], torch.zeros(1, 2, 3), torch.zeros(1, 2), torch.zeros(1, 2, 2),
                         torch.zeros(1, 2), "none")  # fmt: skip

    size = 6 + 2 + 4 + 2  # floats in one batch
    memo = HeadMemo(limit_floats=2 * size)
    batches = [batch(0), batch(1)]
    assert list(memo.through("two", iter(batches))) == batches
    assert memo.get("two") == batches
    assert list(memo.through("three", iter([batch(2), batch(3), batch(4)]))) != []
    assert memo.get("three") is None  # 3 batches exceed the bound: let go, not kept
    assert memo.get("two") == batches  # and nothing kept was dropped for them


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_structured_fusion_scores_real_models_as_dense_fusion_does(
    trained: Any, sets: tuple, seed: int
) -> None:
    """The 15 heads of exact Shapley values over four real models, trained both ways at a
    rate that moves them (1e-3): fused accuracies and Shapley values on 300 held-out digits
    agree within one digit (1/300), while training moved some value by more than three."""
    verification, test = sets
    shapley = ContributionConfig(method="shapley")
    fast = dataclasses.replace(FAST, phase_lr=1e-3)
    start, dense, structured = (
        evaluate_submissions(trained.models, verification, config, shapley, seed=seed, test=test)
        for config in (
            dataclasses.replace(fast, phase1_epochs=0, phase2_epochs=0),
            fast,
            dataclasses.replace(fast, structured=True),
        )
    )
    assert structured.heads_trained == dense.heads_trained == 15
    digit = 1 / 300 + 1e-9
    for s0, a, b in (
        (start.scores, dense.scores, structured.scores),
        (start.test, dense.test, structured.test),
    ):
        assert s0 is not None and a is not None and b is not None
        assert abs(a.fused_accuracy - b.fused_accuracy) <= digit
        assert all(
            abs(x - y) <= digit for x, y in zip(a.contributions, b.contributions, strict=True)
        )
        moved = max(abs(x - y) for x, y in zip(a.contributions, s0.contributions, strict=True))
        assert moved > 3 * digit
