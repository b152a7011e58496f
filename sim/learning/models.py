"""The contributors' networks: the paper's "3-layer CNN" and an MLP, features then output.

A ``Net`` is ``features`` (everything up to and including the penultimate activations)
followed by ``output`` (one linear layer to the class logits), so fusion can drop the
output layer and read the penultimate features directly.

Our reading of the paper's "3-layer CNN" (``cnn3``): three hidden layers, then the output
layer, 28×28 input, no padding:
    conv 5×5 (1 → c1) · ReLU · max-pool 2   → c1 × 12 × 12
    conv 5×5 (c1 → c2) · ReLU · max-pool 2  → c2 × 4 × 4
    fully connected (16·c2 → h) · ReLU       → h penultimate features
    output: fully connected (h → 10)
With the default (16, 32) channels and h = 128 it has 80,202 parameters (321,440 bytes as
safetensors). The paper does not give the layer sizes; counting only the weight layers
before the output keeps the penultimate layer small (h), which is what Fig. 4's fusion
concatenates.

Weights are initialised like PyTorch's defaults (Kaiming-uniform with a = √5, bias
U(±1/√fan_in)) but from an explicit ``torch.Generator``, so no global RNG is touched; there
is no dropout, so training is deterministic given the seed.
"""

from __future__ import annotations

import functools
import math

import torch
from torch import nn

from sim.learning.config import ModelConfig

INPUT_SHAPE = (1, 28, 28)


class Net(nn.Module):
    """``output(features(x))``; ``fingerprint`` is the SHA-256 of the file it came from."""

    def __init__(self, features: nn.Sequential, output: nn.Linear):
        super().__init__()
        self.features = features
        self.output = output
        self.fingerprint: str | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.output(self.features(x))
        return out

    @property
    def feature_width(self) -> int:
        """Width of the penultimate features (the output layer's input)."""
        return int(self.output.in_features)

    @property
    def n_classes(self) -> int:
        return int(self.output.out_features)


def _layers(config: ModelConfig) -> tuple[list[nn.Module], int]:
    layers: list[nn.Module] = []
    if config.architecture == "cnn3":
        c1, c2 = config.channels
        layers += [
            nn.Conv2d(INPUT_SHAPE[0], c1, 5), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(c1, c2, 5), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(),
        ]  # fmt: skip
        width = c2 * 4 * 4
    else:
        layers.append(nn.Flatten())
        width = math.prod(INPUT_SHAPE)
    for hidden in config.hidden:
        layers += [nn.Linear(width, hidden), nn.ReLU()]
        width = hidden
    return layers, width


def build_model(
    config: ModelConfig, n_classes: int, *, seed: int, device: torch.device | str = "cpu"
) -> Net:
    """A freshly initialised ``Net`` whose weights depend on ``seed`` only."""
    with torch.device("meta"):
        layers, width = _layers(config)
        model = Net(nn.Sequential(*layers), nn.Linear(width, n_classes))
    materialise(model)
    initialise(model, torch.Generator().manual_seed(seed))
    return model.to(device)


def empty_model(config: ModelConfig, n_classes: int) -> Net:
    """A ``Net`` on the meta device (shapes only), to receive loaded tensors."""
    with torch.device("meta"):
        layers, width = _layers(config)
        return Net(nn.Sequential(*layers), nn.Linear(width, n_classes))


def materialise(module: nn.Module) -> None:
    """Give ``module``'s meta-device parameters uninitialised CPU storage, in place.

    What ``to_empty(device="cpu")`` does, without its route through PyTorch's Python
    reference ``empty_like``, which imports SymPy (~2 CPU s a process) and is slow per call.
    """
    for owner in module.modules():
        for name, param in list(owner.named_parameters(recurse=False)):
            fresh = torch.empty(param.shape, dtype=param.dtype)
            owner.register_parameter(name, nn.Parameter(fresh, param.requires_grad))


def initialise(model: nn.Module, generator: torch.Generator) -> None:
    """PyTorch's default initialisation of every Linear and Conv2d, from ``generator``."""
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, (nn.Linear, nn.Conv2d)):
                nn.init.kaiming_uniform_(module.weight, a=math.sqrt(5), generator=generator)
                if module.bias is not None:
                    fan_in = module.weight[0].numel()
                    bound = 1.0 / math.sqrt(fan_in)
                    nn.init.uniform_(module.bias, -bound, bound, generator=generator)


@functools.lru_cache(maxsize=64)
def parameter_spec(config: ModelConfig, n_classes: int) -> dict[str, tuple[int, ...]]:
    """Name -> shape of every tensor in the state dict of ``config``'s network."""
    return {name: tuple(t.shape) for name, t in empty_model(config, n_classes).state_dict().items()}


def n_parameters(config: ModelConfig, n_classes: int) -> int:
    return sum(math.prod(shape) for shape in parameter_spec(config, n_classes).values())
