"""Choosing the torch device for training and fusion: ``cuda`` when present, else CPU."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch

from sim.errors import ConfigError


def resolve_device(name: str) -> torch.device:
    """``auto`` -> cuda if available else cpu; ``cuda`` without a GPU is a ConfigError."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError("device: 'cuda' requested but no CUDA device is available")
    if name not in ("cpu", "cuda"):
        raise ConfigError(f"device: expected 'auto', 'cpu' or 'cuda', got {name!r}")
    return torch.device(name)


def numeric_environment(device: torch.device) -> dict[str, Any]:
    """What, besides the inputs, can change a float result: torch, device, CPU threads.

    CPU kernels split their reductions by thread, so the same computation with another
    thread count can differ in the last bits; cache keys include it so that a cached result
    is always the one this process would have computed.
    """
    env: dict[str, Any] = {"torch": torch.__version__, "device": device.type}
    if device.type == "cpu":
        env["threads"] = torch.get_num_threads()
    return env


@contextmanager
def torch_threads(threads: int | None) -> Iterator[None]:
    """Run the block with torch's CPU threads set to ``threads`` (None: leave as is), then
    restore them: the count is process-wide and changes results in their last bits."""
    if threads is None:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)
