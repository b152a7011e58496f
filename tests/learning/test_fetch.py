"""Fetching MNIST: only verified bytes are unpickled, and then only numpy arrays."""

from __future__ import annotations

import json
import os
import pickle
from pathlib import Path

import numpy as np
import pytest

from sim.errors import DataError
from sim.learning import fetch


def classic_pickle(n: int = 4, *, scale: float = 256.0) -> bytes:
    rng = np.random.default_rng(0)
    parts = []
    for _ in range(3):
        pixels = rng.integers(0, 256, size=(n, 784))
        parts.append(((pixels / scale).astype(np.float32), rng.integers(0, 10, size=n)))
    return pickle.dumps(tuple(parts), protocol=3)


def test_classic_pickle_becomes_uint8_digits() -> None:
    images, labels = fetch.mnist_from_pickle(classic_pickle())
    assert images.shape == (12, 28, 28) and images.dtype == np.uint8
    assert labels.shape == (12,) and labels.dtype == np.int64


def test_pixels_that_are_not_multiples_of_1_256_are_refused() -> None:
    with pytest.raises(DataError, match="multiples of 1/256"):
        fetch.mnist_from_pickle(classic_pickle(scale=255.0))


class Exploit:
    """Unpickling this would create a file (if the unpickler resolved os.system)."""

    def __init__(self, path: Path):
        self.path = path

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.system, (f"touch {self.path}",))


def test_a_malicious_pickle_is_refused_without_running(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    payload = pickle.dumps((Exploit(marker), None, None))
    with pytest.raises(DataError, match="is not allowed"):
        fetch.mnist_from_pickle(payload)
    assert not marker.exists()


def test_cached_copy_failing_its_checksum_is_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BAASIM_CACHE", str(tmp_path))
    assert fetch.read_cached_mnist() is None
    path = fetch.mnist_cache_file()
    path.write_bytes(b"not the archive")
    path.with_suffix(".json").write_text(json.dumps({"sha256": "0" * 64, "source": "x"}))
    with pytest.raises(DataError, match="fails its SHA-256 check"):
        fetch.read_cached_mnist()


def test_stored_copy_reads_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BAASIM_CACHE", str(tmp_path))
    images = np.random.default_rng(1).integers(0, 256, (70000, 28, 28), dtype=np.uint8)
    labels = np.arange(70000) % 10
    fetch._store(fetch.mnist_cache_file(), images, labels, "test")
    got = fetch.read_cached_mnist()
    assert got is not None
    assert np.array_equal(got[0], images) and np.array_equal(got[1], labels)
    assert got[2].startswith("test")
