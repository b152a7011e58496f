"""Payloads for the storage tests: seeded bytes of any size and a real model file."""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import pytest


def payload(size: int) -> bytes:
    """``size`` bytes that look random and are the same on every machine and version."""
    return hashlib.shake_256(f"baasim storage {size}".encode()).digest(size)


@pytest.fixture(scope="session")
def make_payload() -> Callable[[int], bytes]:
    return payload


@pytest.fixture(scope="session")
def model_file() -> bytes:
    """A 4.8 MB safetensors file: the MNIST example CNN's state dict, seeded random weights."""
    import torch
    from safetensors.torch import save
    from torch import nn

    with torch.device("meta"):  # shapes only: no draw from torch's global generator
        net = nn.Sequential(
            nn.Conv2d(1, 32, 3),
            nn.ReLU(),
            nn.Conv2d(32, 64, 3),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Linear(9216, 128),
            nn.ReLU(),
            nn.Linear(128, 10),
        )
    generator = torch.Generator().manual_seed(7)
    weights = {
        name: torch.randn(tensor.shape, generator=generator) * 0.05
        for name, tensor in net.state_dict().items()
    }
    return save(weights)
