"""Random streams of one run: a single ``SeedSequence`` and named, independent children.

No module-level RNG is ever touched. A stream is addressed by a path of names
(``streams.numpy("agent", 7)``) and derived from the run's seed and that path alone, so adding a
stream never shifts another one, and the same seed gives the same streams in any order.
"""

from __future__ import annotations

import hashlib

import numpy as np


def _word(name: str | int) -> int:
    if isinstance(name, int):
        if name < 0:
            raise ValueError(f"stream names must be non-negative integers or strings, got {name}")
        return name
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:4], "big")


class RngStreams:
    """The run's seed and the streams derived from it."""

    def __init__(self, seed: int):
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise ValueError(f"seed: expected a non-negative integer, got {seed!r}")
        self.seed = seed

    def sequence(self, *path: str | int) -> np.random.SeedSequence:
        """The SeedSequence of the stream at ``path``."""
        return np.random.SeedSequence(self.seed, spawn_key=tuple(_word(p) for p in path))

    def numpy(self, *path: str | int) -> np.random.Generator:
        """A fresh numpy Generator for the stream at ``path``."""
        return np.random.Generator(np.random.PCG64(self.sequence(*path)))

    def integer_seed(self, *path: str | int) -> int:
        """A 63-bit integer seed for libraries that take one (torch.Generator.manual_seed)."""
        return int(self.sequence(*path).generate_state(2, np.uint32).view(np.uint64)[0] >> 1)
