"""Our Adam and SGD against ``torch.optim``'s, bit for bit, and the import they avoid."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable

import pytest
import torch

from sim.learning.config import TrainConfig
from sim.learning.optimisers import SGD, Adam, make_optimiser, torch_optimiser

Build = Callable[[list[torch.Tensor]], object]


def _params(seed: int) -> list[torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    shapes = [(5, 7), (7,), (3, 4, 2)]
    return [torch.randn(s, generator=generator).requires_grad_(True) for s in shapes]


def _run(build: Build, seed: int, steps: int = 12) -> list[torch.Tensor]:
    """``steps`` steps on seeded gradients; the second parameter has none on every third
    step (both optimisers then skip it and keep its own step count)."""
    params = _params(seed)
    optimiser = build(params)
    generator = torch.Generator().manual_seed(seed + 100)
    for step in range(steps):
        optimiser.zero_grad(set_to_none=True)  # type: ignore[attr-defined]
        for i, p in enumerate(params):
            if i == 1 and step % 3 == 2:
                continue
            p.grad = torch.randn(p.shape, generator=generator) * 10 ** (i - 1)
        optimiser.step()  # type: ignore[attr-defined]
    return [p.detach() for p in params]


CASES: dict[str, tuple[Build, Build]] = {
    "adam": (lambda p: torch.optim.Adam(p, lr=0.01), lambda p: Adam(p, 0.01)),
    "adam, weight decay": (
        lambda p: torch.optim.Adam(p, lr=0.003, weight_decay=0.1),
        lambda p: Adam(p, 0.003, weight_decay=0.1),
    ),
    "adam, fused": (
        lambda p: torch.optim.Adam(p, lr=1e-3, fused=True),
        lambda p: Adam(p, 1e-3, fused=True),
    ),
    "adam, fused, weight decay": (
        lambda p: torch.optim.Adam(p, lr=1e-3, weight_decay=0.05, fused=True),
        lambda p: Adam(p, 1e-3, weight_decay=0.05, fused=True),
    ),
    "sgd": (lambda p: torch.optim.SGD(p, lr=0.1), lambda p: SGD(p, 0.1)),
    "sgd, momentum, weight decay": (
        lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9, weight_decay=0.01),
        lambda p: SGD(p, 0.05, momentum=0.9, weight_decay=0.01),
    ),
}


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_parameters_equal_torch_optims_bit_for_bit(case: str, seed: int) -> None:
    theirs, ours = CASES[case]
    expected, got = _run(theirs, seed), _run(ours, seed)
    moved = _params(seed)
    for e, g, start in zip(expected, got, moved, strict=True):
        assert torch.equal(e, g)
        assert not torch.equal(g, start.detach())  # the steps did move every parameter


def test_replace_carries_moments_and_step_count() -> None:
    """Optimising a widened tensor in place of another: moments widened, steps carried, so
    it goes on exactly as torch.optim would with the moved state."""
    small = torch.randn(3, generator=torch.Generator().manual_seed(0)).requires_grad_(True)
    ours = Adam([small], 0.01)
    small.grad = torch.ones(3)
    ours.step()

    def widen(t: torch.Tensor) -> torch.Tensor:
        return torch.cat([t, torch.zeros(2)])

    wide = widen(small.detach()).requires_grad_(True)
    ours.replace(small, wide, widen)
    reference = torch.optim.Adam([wide.detach().clone().requires_grad_(True)], lr=0.01)
    (theirs,) = reference.param_groups[0]["params"]
    reference.state[theirs] = {
        "step": torch.tensor(1.0),
        "exp_avg": torch.cat([torch.full((3,), 0.1), torch.zeros(2)]),
        "exp_avg_sq": torch.cat([torch.full((3,), 0.001), torch.zeros(2)]),
    }
    for optimiser, p in ((ours, wide), (reference, theirs)):
        p.grad = torch.arange(5.0)
        optimiser.step()
    assert ours.state[wide]["step"].item() == 2.0
    assert torch.equal(wide, theirs)


def test_make_optimiser_follows_the_config() -> None:
    params = _params(0)
    adam = make_optimiser(params, TrainConfig(lr=0.02, weight_decay=0.1))
    sgd = make_optimiser(params, TrainConfig(optimizer="sgd", lr=0.1, momentum=0.5))
    assert isinstance(adam, Adam) and (adam.lr, adam.weight_decay) == (0.02, 0.1)
    assert isinstance(sgd, SGD) and (sgd.lr, sgd.momentum) == (0.1, 0.5)
    assert isinstance(torch_optimiser(params, TrainConfig(optimizer="sgd")), torch.optim.SGD)
    with pytest.raises(ValueError, match="empty parameter list"):
        Adam([], 0.1)


def test_training_and_fusion_do_not_import_the_compiler() -> None:
    """The reason for this module: a process that trains a model and a fused head never
    imports torch._dynamo's SymPy (torch.optim's optimisers would: ~2 CPU s)."""
    script = """
import sys, torch
from torch import nn
from sim.learning.config import FusionConfig, TrainConfig
from sim.learning.fusion import fit_head
from sim.learning.optimisers import make_optimiser
model = nn.Linear(4, 3)
optimiser = make_optimiser(model.parameters(), TrainConfig())
model(torch.ones(2, 4)).sum().backward()
optimiser.step()
features = [torch.randn(20, 4), torch.randn(20, 4)]
fit_head(features, torch.randint(0, 3, (20,)), [nn.Linear(4, 3), nn.Linear(4, 3)],
         FusionConfig(phase1_epochs=1, phase2_epochs=1, structured=True), seed=0)
print("sympy" in sys.modules)
"""
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"
