"""Networks: shapes, reachable penultimate features, seeded starts, no global RNG."""

from __future__ import annotations

import torch

from sim.learning.config import ModelConfig
from sim.learning.models import build_model, n_parameters, parameter_spec


def test_cnn3_is_three_hidden_layers_then_the_output() -> None:
    model = build_model(ModelConfig(), 10, seed=0)
    x = torch.zeros(3, 1, 28, 28)
    assert model.features(x).shape == (3, 128)
    assert model(x).shape == (3, 10)
    weighted = [m for m in model.features if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))]
    assert [type(m).__name__ for m in weighted] == ["Conv2d", "Conv2d", "Linear"]
    assert model.feature_width == 128 and model.n_classes == 10
    assert n_parameters(ModelConfig(), 10) == 80_202


def test_mlp_features_are_its_last_hidden_layer() -> None:
    model = build_model(ModelConfig(architecture="mlp", hidden=(64, 32)), 10, seed=0)
    assert model.features(torch.zeros(2, 1, 28, 28)).shape == (2, 32)
    assert parameter_spec(ModelConfig(architecture="mlp", hidden=(64, 32)), 10)[
        "output.weight"
    ] == (10, 32)


def test_start_depends_on_the_seed_only_and_leaves_global_rng_alone() -> None:
    before = torch.random.get_rng_state()
    a, b, c = (build_model(ModelConfig(), 10, seed=s) for s in (1, 1, 2))
    assert torch.equal(torch.random.get_rng_state(), before)
    for pa, pb in zip(a.parameters(), b.parameters(), strict=True):
        assert torch.equal(pa, pb)
    assert not torch.equal(a.output.weight, c.output.weight)
    bound = 1 / 128**0.5  # PyTorch's default Linear start: U(±1/√fan_in)
    assert float(a.output.weight.detach().abs().max()) <= bound
