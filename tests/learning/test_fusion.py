"""Fusion heads: Fig. 4's shapes, Strategy II's start and its phase-1 block constraint."""

from __future__ import annotations

import dataclasses
from typing import Literal

import pytest
import torch
from torch import nn

import sim.learning.fusion as fusion_module
from sim.learning.config import FusionConfig
from sim.learning.fusion import FusionHead, block_mask, fit_head, train_heads

WIDTHS = (6, 4, 5)
C = 3


@pytest.fixture
def problem() -> tuple[list[torch.Tensor], torch.Tensor, list[nn.Linear]]:
    generator = torch.Generator().manual_seed(0)
    y = torch.randint(0, C, (90,), generator=generator)
    features = [torch.randn(90, d, generator=generator) + y[:, None] * 0.5 for d in WIDTHS]
    outputs = []
    for d in WIDTHS:
        layer = nn.Linear(d, C)
        with torch.no_grad():
            layer.weight.copy_(torch.randn(C, d, generator=generator))
            layer.bias.copy_(torch.randn(C, generator=generator))
        outputs.append(layer)
    return features, y, outputs


def test_head_shapes_follow_figure_4() -> None:
    head = FusionHead(WIDTHS, C)
    assert head.A.weight.shape == (C * len(WIDTHS), sum(WIDTHS))  # h is Σ output widths wide
    assert head.B.weight.shape == (C, C * len(WIDTHS))
    assert head(torch.zeros(7, sum(WIDTHS))).shape == (7, C)


def test_block_mask_marks_each_models_own_block() -> None:
    mask = block_mask(WIDTHS, C)
    assert mask.sum() == C * sum(WIDTHS)
    assert mask[0:3, 0:6].all() and mask[3:6, 6:10].all() and mask[6:9, 10:15].all()
    assert not mask[0:3, 6:].any() and not mask[3:6, :6].any()


def test_strategy_two_starts_as_the_sum_of_the_models_logits(problem: tuple) -> None:
    features, y, outputs = problem
    config = FusionConfig(strategy="II", phase1_epochs=0, phase2_epochs=0)
    head = fit_head(features, y, outputs, config, seed=0)
    expected = sum(o(f) for o, f in zip(outputs, features, strict=True))
    with torch.no_grad():
        assert torch.allclose(head(torch.cat(features, dim=1)), expected, atol=1e-5)


def test_phase_one_keeps_off_diagonal_blocks_exactly_zero(problem: tuple) -> None:
    features, y, outputs = problem
    phase1 = FusionConfig(
        strategy="II", phase1_epochs=5, phase2_epochs=0, phase_lr=1e-2, batch_size=16
    )
    start = fit_head(features, y, outputs, dataclasses.replace(phase1, phase1_epochs=0), seed=0)
    after = fit_head(features, y, outputs, phase1, seed=0)
    off = ~after.block_mask()
    assert torch.count_nonzero(after.A.weight[off]) == 0
    assert not torch.equal(after.A.weight[~off], start.A.weight[~off])  # the blocks did learn
    released = fit_head(features, y, outputs, dataclasses.replace(phase1, phase2_epochs=5), seed=0)
    assert torch.count_nonzero(released.A.weight[off]) > 0


def test_strategy_one_is_seeded_and_learns(problem: tuple) -> None:
    features, y, outputs = problem
    config = FusionConfig(strategy="I", epochs=30, lr=1e-2, batch_size=16)
    a, b = (fit_head(features, y, outputs, config, seed=1) for _ in range(2))
    assert torch.equal(a.A.weight, b.A.weight)
    assert not torch.equal(a.A.weight, fit_head(features, y, outputs, config, seed=2).A.weight)
    f = torch.cat(features, dim=1)
    with torch.no_grad():
        accuracy = float((a(f).argmax(1) == y).float().mean())
    assert accuracy > 0.8


@pytest.mark.parametrize("strategy", ["I", "II"])
def test_heads_trained_together_equal_heads_trained_alone(
    problem: tuple, strategy: Literal["I", "II"]
) -> None:
    features, y, outputs = problem
    config = FusionConfig(
        strategy=strategy, epochs=4, phase1_epochs=2, phase2_epochs=2, batch_size=32
    )
    coalitions = [(0,), (1,), (0, 1), (0, 2), (1, 2), (0, 1, 2)]
    together = {
        group: batch.head(k, [WIDTHS[i] for i in group])
        for batch in train_heads(
            features, y, outputs, coalitions, [10, 11, 12, 13, 14, 15], config, 7
        )
        for k, group in enumerate(batch.members)
    }
    for seed, group in zip([10, 11, 12, 13, 14, 15], coalitions, strict=True):
        (alone,) = train_heads(features, y, outputs, [group], [seed], config, 7)
        single = alone.head(0, [WIDTHS[i] for i in group])
        assert torch.allclose(single.A.weight, together[group].A.weight, atol=1e-5)
        assert torch.allclose(single.B.weight, together[group].B.weight, atol=1e-5)


def test_batch_accuracies_match_the_modules(problem: tuple) -> None:
    features, y, outputs = problem
    config = FusionConfig(strategy="I", epochs=3)
    coalitions = [(0,), (1, 2), (0, 1, 2)]
    for batch in train_heads(features, y, outputs, coalitions, [1, 2, 3], config, 0):
        accuracies = batch.accuracies(features, y)
        for k, group in enumerate(batch.members):
            head = batch.head(k, [WIDTHS[i] for i in group])
            f = torch.cat([features[i] for i in group], dim=1)
            with torch.no_grad():
                assert accuracies[k] == pytest.approx(
                    float((head(f).argmax(1) == y).float().mean())
                )


def test_heads_are_trained_one_batch_at_a_time_when_asked_for(
    problem: tuple, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A caller that lets each batch go holds one chunk of heads at a time; the batches
    are the ones trained all at once, and none keeps its training gradients."""
    features, y, outputs = problem
    config = FusionConfig(strategy="II", phase1_epochs=1, phase2_epochs=1, batch_size=32)
    coalitions = [(0,), (1,), (2,), (0, 1), (1, 2)]
    monkeypatch.setattr(fusion_module, "CHUNK_FLOATS", 1)  # one head per batch
    fitted: list[int] = []
    real_fit = fusion_module._fit

    def counted(batch: fusion_module.HeadBatch, *args: object) -> None:
        fitted.append(1)
        real_fit(batch, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(fusion_module, "_fit", counted)
    stream = train_heads(features, y, outputs, coalitions, [1, 2, 3, 4, 5], config, 0)
    assert fitted == []  # nothing trained before a batch is asked for
    first = next(stream)
    assert len(fitted) == 1 and len(first.members) == 1
    lazily = [first, *stream]
    assert len(fitted) == len(coalitions) == len(lazily)
    eager = list(train_heads(features, y, outputs, coalitions, [1, 2, 3, 4, 5], config, 0))
    for a, b in zip(lazily, eager, strict=True):
        assert a.members == b.members and torch.equal(a.A, b.A) and torch.equal(a.B, b.B)
        assert all(p.grad is None and not p.requires_grad for p in a.parameters())


def test_empty_coalitions_and_no_features_are_refused(problem: tuple) -> None:
    features, y, outputs = problem
    with pytest.raises(ValueError, match="non-empty"):
        train_heads(features, y, outputs, [(0,), ()], [0, 1], FusionConfig(), 0)  # at the call
    with pytest.raises(ValueError, match="at least one"):
        fit_head([], y, outputs, FusionConfig(), 0)


EQUAL = (5, 5, 5, 5)
"""Feature widths of the structured-training tests (the structured path needs equal ones)."""


def _equal_width_problem(
    dtype: torch.dtype,
) -> tuple[list[torch.Tensor], torch.Tensor, list[nn.Linear]]:
    generator = torch.Generator().manual_seed(1)
    y = torch.randint(0, C, (120,), generator=generator)
    features = [
        (torch.randn(120, d, generator=generator) + y[:, None] * 0.5).to(dtype) for d in EQUAL
    ]
    outputs = []
    for d in EQUAL:
        layer = nn.Linear(d, C).to(dtype)
        with torch.no_grad():
            layer.weight.copy_(torch.randn(C, d, generator=generator))
            layer.bias.copy_(torch.randn(C, generator=generator))
        outputs.append(layer)
    return features, y, outputs


def _heads(
    problem: tuple[list[torch.Tensor], torch.Tensor, list[nn.Linear]],
    config: FusionConfig,
    coalitions: list[tuple[int, ...]],
    dtype: torch.dtype = torch.float32,
) -> list[fusion_module.HeadBatch]:
    features, y, outputs = problem
    default = torch.get_default_dtype()
    torch.set_default_dtype(dtype)  # the heads' parameters take the default dtype
    try:
        seeds = list(range(len(coalitions)))
        return list(train_heads(features, y, outputs, coalitions, seeds, config, 5))
    finally:
        torch.set_default_dtype(default)


@pytest.mark.parametrize("activation", ["none", "relu"])
def test_structured_training_is_the_dense_training_in_exact_arithmetic(
    activation: Literal["none", "relu"],
) -> None:
    """In float64 the two computations agree to rounding (~1e-15), heads of every size."""
    problem = _equal_width_problem(torch.float64)
    dense = FusionConfig(
        phase1_epochs=4, phase2_epochs=4, phase_lr=1e-2, batch_size=32, activation=activation
    )
    coalitions = [(0, 1, 2, 3), (0, 2), (1, 2, 3), (3,)]
    expected = _heads(problem, dense, coalitions, torch.float64)
    got = _heads(problem, dataclasses.replace(dense, structured=True), coalitions, torch.float64)
    start = _heads(problem, dataclasses.replace(dense, phase1_epochs=0, phase2_epochs=0),
                   coalitions, torch.float64)  # fmt: skip
    for a, b, s in zip(expected, got, start, strict=True):
        assert a.members == b.members
        off = ~block_mask([EQUAL[i] for i in a.members[0]], C)
        if len(a.members[0]) > 1:
            assert torch.count_nonzero(b.A[0][off]) > 0  # phase 2 released the other blocks
        for p, q, p0 in zip(a.parameters(), b.parameters(), s.parameters(), strict=True):
            assert float((p - p0).abs().max()) > 1e-3  # both trained, far beyond rounding
            assert torch.allclose(p, q, rtol=0, atol=1e-12)


def test_structured_training_differs_from_dense_only_by_float_rounding() -> None:
    problem = _equal_width_problem(torch.float32)
    dense = FusionConfig(phase1_epochs=4, phase2_epochs=4, phase_lr=1e-2, batch_size=32)
    coalitions = [(0, 1, 2, 3), (1, 3)]
    expected = _heads(problem, dense, coalitions)
    got = _heads(problem, dataclasses.replace(dense, structured=True), coalitions)
    for a, b in zip(expected, got, strict=True):
        for p, q in zip(a.parameters(), b.parameters(), strict=True):
            assert torch.allclose(p, q, rtol=0, atol=1e-5)


def test_structured_training_of_mixed_widths_is_the_dense_training(problem: tuple) -> None:
    config = FusionConfig(phase1_epochs=3, phase2_epochs=3, phase_lr=1e-2, batch_size=16)
    coalitions = [(0, 1, 2), (0, 2), (1, 2)]  # widths 6, 4 and 5: no two alike
    expected = _heads(problem, config, coalitions)
    got = _heads(problem, dataclasses.replace(config, structured=True), coalitions)
    for a, b in zip(expected, got, strict=True):
        for p, q in zip(a.parameters(), b.parameters(), strict=True):
            assert torch.equal(p, q)


def test_factored_scoring_gives_the_dense_logits(problem: tuple) -> None:
    """A structured head (activation "none") is scored through B·A; in float64 its logits
    are the dense ones to rounding, so the accuracies are the same."""
    features, y, outputs = problem
    problem64 = ([f.double() for f in features], y, [o.double() for o in outputs])
    config = FusionConfig(phase1_epochs=2, phase2_epochs=2, phase_lr=1e-2, structured=True)
    # two heads of one shape (their own seeds); mixed widths train dense, score factored
    (batch,) = _heads(problem64, config, [(0, 1, 2), (0, 1, 2)], torch.float64)
    assert batch.factored
    dense = dataclasses.replace(batch, factored=False)
    f = fusion_module.gather(problem64[0], batch.members)
    with torch.no_grad():
        expected = dense.forward(f)
        got = fusion_module._factored_logits(f, batch.A, batch.a, batch.B, batch.b)
    assert torch.allclose(expected, got, rtol=0, atol=1e-12)
    assert batch.accuracies(problem64[0], y) == dense.accuracies(problem64[0], y)
    relu = dataclasses.replace(config, activation="relu")
    assert not all(b.factored for b in _heads(problem64, relu, [(0, 1)], torch.float64))
