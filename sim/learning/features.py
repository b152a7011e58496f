"""Labelled evaluation data and the penultimate features of frozen models, computed once.

A verifier runs each submitted model's ``features`` over its data once; every fusion head
(both strategies, every subset a contribution method asks about) then trains on those
stored features. ``FeatureCache`` keys them by (model content hash, data identity), so
several verifiers in one process that see the same model and the same verification set
share one forward pass. It is bounded in bytes and evicts least-recently-used entries.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np
import torch

from sim.learning.datasets import Dataset
from sim.learning.models import Net
from sim.learning.safety import flat_parameters

FEATURE_BATCH = 512
"""Samples per forward pass. Small enough that a batch's activations (~26 MB for 16 channels
at 28×28) stay under glibc's 32 MB mmap threshold: larger ones are fresh mappings each time,
and their page faults cost more than the convolutions (4096: 2.3× slower on a 2-core CPU)."""


@dataclass(frozen=True, eq=False)
class LabelledData:
    """Images ``x`` [N, 1, 28, 28], labels ``y`` [N] and a ``key`` naming the content."""

    x: torch.Tensor
    y: torch.Tensor
    key: str

    def __len__(self) -> int:
        return int(self.y.shape[0])

    @classmethod
    def from_indices(cls, dataset: Dataset, indices: np.ndarray) -> LabelledData:
        """The samples of ``dataset`` at ``indices``; the key is cheap (no pixel hashing)."""
        array = np.array(indices, dtype=np.int64)
        digest = hashlib.sha256(dataset.fingerprint.encode() + array.tobytes()).hexdigest()
        rows = torch.from_numpy(array)
        return cls(dataset.x[rows], dataset.y[rows], digest)


def model_key(model: Net) -> str:
    """The model file's SHA-256 when it was loaded from one, else a hash of its parameters."""
    if model.fingerprint is not None:
        return model.fingerprint
    return hashlib.sha256(flat_parameters(model).numpy().tobytes()).hexdigest()


class FeatureCache:
    """Penultimate features by (model, data), least recently used evicted past ``max_bytes``."""

    def __init__(self, max_bytes: int = 1 << 30):
        self.max_bytes = max_bytes
        self._entries: OrderedDict[tuple[str, str], torch.Tensor] = OrderedDict()
        self._bytes = 0
        self.hits = 0
        self.misses = 0

    def features(self, model: Net, data: LabelledData, device: torch.device) -> torch.Tensor:
        """``model.features(data.x)`` as float32 [N, d] on ``device``, computed at most once."""
        key = (model_key(model), data.key)
        found = self._entries.get(key)
        if found is not None:
            self.hits += 1
            self._entries.move_to_end(key)
            return found.to(device)
        self.misses += 1
        out = extract_features(model, data.x, device)
        self._store(key, out)
        return out

    def _store(self, key: tuple[str, str], value: torch.Tensor) -> None:
        size = value.numel() * value.element_size()
        if size > self.max_bytes:
            return
        self._entries[key] = value
        self._bytes += size
        while self._bytes > self.max_bytes:
            _, evicted = self._entries.popitem(last=False)
            self._bytes -= evicted.numel() * evicted.element_size()

    def __len__(self) -> int:
        return len(self._entries)


def extract_features(model: Net, x: torch.Tensor, device: torch.device) -> torch.Tensor:
    """Penultimate features of ``x`` through frozen ``model``, batched, without autograd."""
    model = model.to(device).eval()
    with torch.inference_mode():
        parts = [
            model.features(x[start : start + FEATURE_BATCH].to(device))
            for start in range(0, len(x), FEATURE_BATCH)
        ]
        joined = torch.cat(parts) if parts else torch.empty(0, model.feature_width, device=device)
    # A normal tensor (not an inference tensor), so heads can train on it with autograd.
    return joined.clone()
