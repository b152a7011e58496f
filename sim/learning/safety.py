"""Model files from untrusted contributors: safetensors out, validated safetensors in.

``to_bytes`` writes a model's state dict as safetensors (deterministic bytes, so the same
weights always get the same CID). ``load_model`` accepts a file only after checking, in
this order and before any tensor is built: its size, that it is safetensors at all (an
8-byte little-endian header length, then a JSON header; a pickle or a zip fails here and is
never unpickled), the tensor names, dtypes (float32 only), shapes and byte ranges against
the task's architecture; then that every weight is finite and below a magnitude limit. A
bad file raises ``InvalidModelFile`` (a ``sim.errors.ModelRejected``) whose ``reason`` is a
short code a simulation records.

Plagiarism tools: ``perturb`` adds small Gaussian noise to a file's weights, and
``weight_similarity`` is the cosine similarity of two models' flattened parameters. Two
independently initialised and trained models score near 0 (their weights are nearly
orthogonal in ~80k dimensions); a copy with noise of relative scale s scores about
1/√(1 + s²) (0.995 for s = 0.1). ``is_near_duplicate`` flags pairs at or above
``DUPLICATE_THRESHOLD`` = 0.95 (a copy with relative noise up to about 0.33).
"""

from __future__ import annotations

import hashlib
import json
import math
from collections import OrderedDict
from collections.abc import Sequence
from enum import StrEnum
from typing import Any

import numpy as np
import torch
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save
from torch import nn

from sim.errors import ModelRejected
from sim.learning.config import ModelConfig, ModelLimits
from sim.learning.models import Net, empty_model, parameter_spec

DUPLICATE_THRESHOLD = 0.95


class RejectReason(StrEnum):
    """Why a model file was refused."""

    OVERSIZE = "oversize"
    NOT_SAFETENSORS = "not_safetensors"
    WRONG_NAMES = "wrong_names"
    WRONG_DTYPE = "wrong_dtype"
    WRONG_SHAPE = "wrong_shape"
    NON_FINITE = "non_finite"
    WEIGHT_TOO_LARGE = "weight_too_large"


class InvalidModelFile(ModelRejected):
    """A model file failed validation; ``reason`` says which check."""

    def __init__(self, reason: RejectReason, message: str):
        self.reason = reason
        super().__init__(f"{reason.value}: {message}")


def to_bytes(model: nn.Module) -> bytes:
    """The model's state dict as safetensors bytes (float32, CPU, no metadata)."""
    tensors = {
        name: t.detach().to("cpu", torch.float32).contiguous()
        for name, t in model.state_dict().items()
    }
    return bytes(st_save(tensors))


def content_hash(data: bytes) -> str:
    """SHA-256 hex digest of a model file (what identifies a model's features in caches)."""
    return hashlib.sha256(data).hexdigest()


def read_header(data: bytes, limits: ModelLimits) -> dict[str, Any]:
    """The JSON header of a safetensors file, checked for size and form; no tensor is read."""
    if len(data) > limits.max_bytes:
        raise InvalidModelFile(
            RejectReason.OVERSIZE, f"{len(data)} bytes exceeds the limit of {limits.max_bytes}"
        )
    if len(data) < 10:
        raise InvalidModelFile(RejectReason.NOT_SAFETENSORS, f"only {len(data)} bytes")
    size = int.from_bytes(data[:8], "little")
    if size > limits.max_header_bytes or 8 + size > len(data):
        raise InvalidModelFile(
            RejectReason.NOT_SAFETENSORS,
            f"header length {size} does not fit the file ({len(data)} bytes); "
            "not a safetensors file",
        )
    try:
        header = json.loads(data[8 : 8 + size].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise InvalidModelFile(RejectReason.NOT_SAFETENSORS, f"header is not JSON: {err}") from err
    if not isinstance(header, dict):
        raise InvalidModelFile(RejectReason.NOT_SAFETENSORS, "header is not a JSON object")
    header.pop("__metadata__", None)
    return header


def check_header(
    header: dict[str, Any], spec: dict[str, tuple[int, ...]], buffer_bytes: int
) -> None:
    """Names, dtypes, shapes and byte ranges of ``header`` against the expected ``spec``."""
    missing, extra = sorted(set(spec) - set(header)), sorted(set(header) - set(spec))
    if missing or extra:
        raise InvalidModelFile(
            RejectReason.WRONG_NAMES, f"missing tensors {missing[:5]}, unexpected {extra[:5]}"
        )
    for name, shape in spec.items():
        entry = header[name]
        if not isinstance(entry, dict) or entry.get("dtype") != "F32":
            got = entry.get("dtype") if isinstance(entry, dict) else entry
            raise InvalidModelFile(RejectReason.WRONG_DTYPE, f"{name}: expected F32, got {got}")
        if entry.get("shape") != list(shape):
            raise InvalidModelFile(
                RejectReason.WRONG_SHAPE,
                f"{name}: expected shape {list(shape)}, got {entry.get('shape')}",
            )
        offsets = entry.get("data_offsets")
        size = 4 * math.prod(shape)
        if (
            not isinstance(offsets, list)
            or len(offsets) != 2
            or not all(isinstance(o, int) for o in offsets)
            or offsets[1] - offsets[0] != size
            or offsets[0] < 0
            or offsets[1] > buffer_bytes
        ):
            raise InvalidModelFile(
                RejectReason.NOT_SAFETENSORS, f"{name}: bad data_offsets {offsets}"
            )


def load_tensors(
    data: bytes, spec: dict[str, tuple[int, ...]], limits: ModelLimits
) -> dict[str, torch.Tensor]:
    """The validated tensors of a safetensors file whose layout must equal ``spec``."""
    header = read_header(data, limits)
    header_size = int.from_bytes(data[:8], "little")
    check_header(header, spec, len(data) - 8 - header_size)
    try:
        tensors = st_load(data)
    except Exception as err:  # safetensors raises its own SafetensorError and others
        raise InvalidModelFile(RejectReason.NOT_SAFETENSORS, f"safetensors: {err}") from err
    for name, tensor in tensors.items():
        if not bool(torch.isfinite(tensor).all()):
            raise InvalidModelFile(RejectReason.NON_FINITE, f"{name} holds NaN or infinity")
        largest = float(tensor.abs().max()) if tensor.numel() else 0.0
        if largest > limits.max_abs_weight:
            raise InvalidModelFile(
                RejectReason.WEIGHT_TOO_LARGE,
                f"{name} has a weight of magnitude {largest:g} > {limits.max_abs_weight:g}",
            )
    return tensors


def load_model(
    data: bytes,
    config: ModelConfig,
    n_classes: int = 10,
    limits: ModelLimits | None = None,
    *,
    device: torch.device | str = "cpu",
) -> Net:
    """A frozen ``Net`` (eval mode, no gradients) from untrusted safetensors ``data``.

    Raises ``InvalidModelFile`` (a ``ModelRejected``) naming the check that failed.
    """
    tensors = load_tensors(data, parameter_spec(config, n_classes), limits or ModelLimits())
    model = empty_model(config, n_classes)
    model.load_state_dict(tensors, strict=True, assign=True)
    model = model.to(device).eval().requires_grad_(False)
    model.fingerprint = content_hash(data)
    return model


def perturb(data: bytes, scale: float, rng: np.random.Generator) -> bytes:
    """The model file ``data`` with Gaussian noise of ``scale`` × each tensor's std added."""
    tensors = st_load(data)
    noisy = {}
    # By name: safetensors returns the tensors in an order that changes from call to call,
    # and the noise drawn for each tensor must not.
    for name, tensor in sorted(tensors.items()):
        std = float(tensor.float().std()) if tensor.numel() > 1 else float(tensor.abs().mean())
        noise = rng.standard_normal(tuple(tensor.shape)).astype(np.float32) * scale * std
        noisy[name] = (tensor.float() + torch.from_numpy(noise)).contiguous()
    return bytes(st_save(noisy))


def flat_parameters(model: nn.Module) -> torch.Tensor:
    """All parameters of ``model`` in state-dict order, as one float64 CPU vector."""
    return torch.cat([t.detach().reshape(-1).double().cpu() for t in model.state_dict().values()])


def weight_similarity(a: nn.Module, b: nn.Module) -> float:
    """Cosine similarity of the flattened parameters of ``a`` and ``b`` (in [−1, 1]).

    Models of different shapes get 0.0.
    """
    va, vb = flat_parameters(a), flat_parameters(b)
    if va.shape != vb.shape:
        return 0.0
    denominator = float(va.norm() * vb.norm())
    return float(va @ vb) / denominator if denominator > 0 else 0.0


def is_near_duplicate(a: nn.Module, b: nn.Module, threshold: float = DUPLICATE_THRESHOLD) -> bool:
    """Whether ``b`` looks like a (possibly perturbed) copy of ``a``."""
    return weight_similarity(a, b) >= threshold


def similarity_matrix(vectors: Sequence[torch.Tensor]) -> torch.Tensor:
    """Cosine similarities of every pair of flattened parameter vectors, all at once.

    One float64 Gram matrix of the stacked vectors, divided by the outer product of their
    norms: entry ``[i, j]`` is ``weight_similarity`` of models i and j (to the last bits of a
    float64 sum, whose order BLAS chooses), with 0.0 for vectors of different lengths or of
    zero norm, as there. n models cost one n × d by d × n product instead of n²/2 Python
    calls that each flatten both models again.
    """
    n = len(vectors)
    out = torch.zeros((n, n), dtype=torch.float64)
    by_length: dict[int, list[int]] = {}
    for i, v in enumerate(vectors):
        by_length.setdefault(int(v.numel()), []).append(i)
    for rows in by_length.values():
        stacked = torch.stack([vectors[i].reshape(-1).double() for i in rows])
        norms = stacked.norm(dim=1)
        denominator = torch.outer(norms, norms)
        gram = stacked @ stacked.T
        sims = torch.where(denominator > 0, gram / denominator, torch.zeros_like(gram))
        index = torch.tensor(rows)
        out[index.unsqueeze(1), index.unsqueeze(0)] = sims
    return out


def first_duplicates(
    vectors: Sequence[torch.Tensor], threshold: float = DUPLICATE_THRESHOLD
) -> list[int | None]:
    """For each model in order, the first earlier non-duplicate it is a near-copy of.

    Model i is compared with the models before it that were not themselves flagged (the
    first submission of a family keeps its place, a copy of a copy points at the original
    it resembles first); ``None`` where model i is original. One similarity matrix serves
    every comparison.
    """
    sims = similarity_matrix(vectors)
    kept: list[int] = []
    found: list[int | None] = []
    for i in range(len(vectors)):
        original = None
        if kept:
            hits = (sims[i, kept] >= threshold).nonzero()
            if len(hits):
                original = kept[int(hits[0, 0])]
        found.append(original)
        if original is None:
            kept.append(i)
    return found


class FlatCache:
    """Flattened parameter vectors by model content (the file's SHA-256), least recently used
    evicted past ``max_bytes``: each model is flattened once per run, however many verifiers
    (and the oracle) compare it."""

    def __init__(self, max_bytes: int = 256 << 20):
        self.max_bytes = max_bytes
        self._entries: OrderedDict[str, torch.Tensor] = OrderedDict()
        self._bytes = 0
        self.hits = 0
        self.misses = 0

    def vector(self, model: nn.Module) -> torch.Tensor:
        """``flat_parameters(model)``, computed once per fingerprint while it stays cached."""
        key = getattr(model, "fingerprint", None)
        if not isinstance(key, str):
            return flat_parameters(model)
        found = self._entries.get(key)
        if found is not None:
            self.hits += 1
            self._entries.move_to_end(key)
            return found
        self.misses += 1
        found = flat_parameters(model)
        size = found.numel() * found.element_size()
        if size <= self.max_bytes:
            self._entries[key] = found
            self._bytes += size
            while self._bytes > self.max_bytes:
                _, evicted = self._entries.popitem(last=False)
                self._bytes -= evicted.numel() * evicted.element_size()
        return found

    def __len__(self) -> int:
        return len(self._entries)
