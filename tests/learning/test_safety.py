"""Untrusted model files: only well-formed safetensors of the task's layout are loaded."""

from __future__ import annotations

import io
import json
import os
import pickle
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from safetensors.torch import save

from sim.errors import ModelRejected
from sim.learning.config import ModelConfig, ModelLimits
from sim.learning.models import build_model
from sim.learning.safety import (
    DUPLICATE_THRESHOLD,
    FlatCache,
    InvalidModelFile,
    RejectReason,
    first_duplicates,
    flat_parameters,
    is_near_duplicate,
    load_model,
    perturb,
    similarity_matrix,
    to_bytes,
    weight_similarity,
)

CONFIG = ModelConfig(channels=(4, 8), hidden=(16,))


def state(seed: int = 0) -> dict[str, torch.Tensor]:
    return dict(build_model(CONFIG, 10, seed=seed).state_dict())


def rejected(data: bytes, limits: ModelLimits | None = None) -> InvalidModelFile:
    with pytest.raises(ModelRejected) as info:
        load_model(data, CONFIG, 10, limits)
    assert isinstance(info.value, InvalidModelFile)
    return info.value


def test_round_trip_gives_a_frozen_equal_model() -> None:
    model = build_model(CONFIG, 10, seed=3)
    data = to_bytes(model)
    loaded = load_model(data, CONFIG)
    assert to_bytes(loaded) == data  # deterministic bytes: same weights, same CID
    assert not loaded.training
    assert all(not p.requires_grad for p in loaded.parameters())
    x = torch.rand(2, 1, 28, 28)
    assert torch.equal(loaded(x), model(x).detach())
    assert loaded.fingerprint is not None and len(loaded.fingerprint) == 64


def test_wrong_shape_is_refused() -> None:
    tensors = state()
    tensors["output.weight"] = torch.zeros(10, 17)
    error = rejected(save(tensors))
    assert error.reason is RejectReason.WRONG_SHAPE
    assert "output.weight" in str(error) and "[10, 16]" in str(error)


def test_missing_and_extra_tensors_are_refused() -> None:
    tensors = state()
    tensors["extra"] = tensors.pop("output.bias")
    error = rejected(save(tensors))
    assert error.reason is RejectReason.WRONG_NAMES
    assert "output.bias" in str(error) and "extra" in str(error)


@pytest.mark.parametrize("dtype", [torch.float16, torch.float64, torch.int32])
def test_other_dtypes_are_refused(dtype: torch.dtype) -> None:
    tensors = state()
    tensors["output.bias"] = tensors["output.bias"].to(dtype)
    assert rejected(save(tensors)).reason is RejectReason.WRONG_DTYPE


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_non_finite_weights_are_refused(bad: float) -> None:
    tensors = state()
    tensors["features.0.weight"][0, 0, 0, 0] = bad
    assert rejected(save(tensors)).reason is RejectReason.NON_FINITE


def test_huge_weights_are_refused() -> None:
    tensors = state()
    tensors["output.weight"][0, 0] = 1e9
    assert rejected(save(tensors)).reason is RejectReason.WEIGHT_TOO_LARGE


def test_oversize_files_are_refused_before_parsing() -> None:
    data = to_bytes(build_model(CONFIG, 10, seed=0))
    error = rejected(data, ModelLimits(max_bytes=len(data) - 1))
    assert error.reason is RejectReason.OVERSIZE


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\x00" * 16,
        (5).to_bytes(8, "little") + b"nojso",
        (2).to_bytes(8, "little") + b"[]",
        (10**12).to_bytes(8, "little") + b"{}",
    ],
)
def test_garbage_is_refused(data: bytes) -> None:
    assert rejected(data).reason is RejectReason.NOT_SAFETENSORS


def test_offsets_pointing_outside_the_file_are_refused() -> None:
    data = bytearray(to_bytes(build_model(CONFIG, 10, seed=0)))
    size = int.from_bytes(data[:8], "little")
    header = json.loads(data[8 : 8 + size])
    begin, end = header["output.bias"]["data_offsets"]
    header["output.bias"]["data_offsets"] = [begin + 10**6, end + 10**6]
    text = json.dumps(header).encode().ljust(size)
    forged = (len(text)).to_bytes(8, "little") + text + bytes(data[8 + size :])
    assert rejected(forged).reason is RejectReason.NOT_SAFETENSORS


def test_truncated_file_is_refused() -> None:
    data = to_bytes(build_model(CONFIG, 10, seed=0))
    assert rejected(data[:-4]).reason is RejectReason.NOT_SAFETENSORS


class Exploit:
    def __init__(self, path: Path):
        self.path = path

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.system, (f"touch {self.path}",))


def test_malicious_pickle_is_refused_without_running(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    for data in (
        pickle.dumps({"output.weight": Exploit(marker)}),
        _torch_save({"output.weight": Exploit(marker)}),
    ):
        assert rejected(data).reason is RejectReason.NOT_SAFETENSORS
    assert not marker.exists()


def _torch_save(obj: object) -> bytes:
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    return buffer.getvalue()


def test_perturbed_copy_is_a_near_duplicate_and_independent_models_are_not() -> None:
    original = to_bytes(build_model(CONFIG, 10, seed=0))
    copy = load_model(perturb(original, 0.1, np.random.default_rng(0)), CONFIG)
    base = load_model(original, CONFIG)
    other = load_model(to_bytes(build_model(CONFIG, 10, seed=1)), CONFIG)
    assert 0.99 < weight_similarity(base, copy) < 1.0
    assert weight_similarity(base, base) == pytest.approx(1.0)
    assert is_near_duplicate(base, copy)
    assert not is_near_duplicate(base, other)
    assert abs(weight_similarity(base, other)) < 0.2
    assert perturb(original, 0.1, np.random.default_rng(0)) != original


def test_perturbing_is_a_function_of_the_file_and_the_stream() -> None:
    original = to_bytes(build_model(CONFIG, 10, seed=0))
    copies = {perturb(original, 0.1, np.random.default_rng(3)) for _ in range(5)}
    assert len(copies) == 1


def test_trained_models_are_not_near_duplicates(trained: Any) -> None:
    models = trained.models
    sims = [weight_similarity(models[0], m) for m in models[1:]]
    assert max(abs(s) for s in sims) < 0.2


def _family() -> list[Any]:
    """Originals, noisy copies (of an original and of a copy) and an exact copy, mixed."""
    files = [to_bytes(build_model(CONFIG, 10, seed=s)) for s in range(4)]
    rng = np.random.default_rng(5)
    copy_of_1 = perturb(files[1], 0.1, rng)
    files += [copy_of_1, perturb(copy_of_1, 0.2, rng), perturb(files[0], 0.5, rng), files[2]]
    files.insert(2, perturb(files[3], 0.05, rng))
    return [load_model(f, CONFIG) for f in files]


def test_similarity_matrix_equals_the_pairwise_similarities() -> None:
    models = _family()
    sims = similarity_matrix([flat_parameters(m) for m in models])
    for i, a in enumerate(models):
        for j, b in enumerate(models):
            assert float(sims[i, j]) == pytest.approx(weight_similarity(a, b), abs=1e-12)
    mixed = similarity_matrix([torch.ones(3), torch.ones(4), torch.zeros(3), torch.ones(3)])
    expected = [[1, 0, 0, 1], [0, 1, 0, 0], [0, 0, 0, 0], [1, 0, 0, 1]]
    assert mixed.numpy() == pytest.approx(np.array(expected, dtype=float), abs=1e-12)


def test_first_duplicates_matches_comparing_with_each_earlier_kept_model() -> None:
    models = _family()
    kept: list[int] = []
    expected: list[int | None] = []
    for i, m in enumerate(models):
        original = next((j for j in kept if is_near_duplicate(m, models[j])), None)
        expected.append(original)
        if original is None:
            kept.append(i)
    assert first_duplicates([flat_parameters(m) for m in models]) == expected
    assert expected.count(None) < len(models) - 2  # the family holds copies of several kinds
    assert first_duplicates([]) == []
    assert DUPLICATE_THRESHOLD == 0.95


def test_flat_cache_flattens_each_model_file_once_within_its_bound() -> None:
    models = _family()
    cache = FlatCache()
    first = [cache.vector(m) for m in models]
    again = [cache.vector(m) for m in models]
    assert all(a is b for a, b in zip(first, again, strict=True))
    assert all(torch.equal(v, flat_parameters(m)) for v, m in zip(first, models, strict=True))
    distinct = len({m.fingerprint for m in models})
    hits = 2 * len(models) - distinct
    assert (cache.misses, cache.hits, len(cache)) == (distinct, hits, distinct)
    small = FlatCache(max_bytes=2 * first[0].numel() * 8)
    for m in models:
        small.vector(m)
    assert len(small) == 2
