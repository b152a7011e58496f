"""Loaders: IDX parsing on tiny generated files, the mnist-5k loader, synthetic digits."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest
import torch

from sim.errors import DataError
from sim.learning.datasets import (
    MNIST_5K_FINGERPRINT,
    Dataset,
    fingerprint,
    load_dataset,
    synthetic,
)
from sim.learning.idx import read_idx, read_idx_directory


def idx_bytes(array: np.ndarray) -> bytes:
    header = bytes([0, 0, 0x08, array.ndim])
    dims = b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    return header + dims + array.astype(np.uint8).tobytes()


def write_idx_set(directory: Path, n_train: int, n_test: int, *, gz: bool) -> np.ndarray:
    """Four standard IDX files with random digits; returns all labels, train then test."""
    rng = np.random.default_rng(0)
    directory.mkdir(parents=True, exist_ok=True)
    labels = []
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        y = rng.integers(0, 10, size=n, dtype=np.uint8)
        labels.append(y)
        for name, array in (
            (f"{prefix}-images-idx3-ubyte", images),
            (f"{prefix}-labels-idx1-ubyte", y),
        ):
            raw = idx_bytes(array)
            if gz:
                (directory / f"{name}.gz").write_bytes(gzip.compress(raw))
            else:
                (directory / name).write_bytes(raw)
    return np.concatenate(labels)


def test_read_idx_round_trips_plain_and_gzip(tmp_path: Path) -> None:
    array = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    (tmp_path / "a").write_bytes(idx_bytes(array))
    (tmp_path / "a.gz").write_bytes(gzip.compress(idx_bytes(array)))
    assert np.array_equal(read_idx(tmp_path / "a"), array)
    assert np.array_equal(read_idx(tmp_path / "a.gz"), array)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b"\x01\x00\x08\x01" + (3).to_bytes(4, "big") + b"abc", "bad magic"),
        (b"\x00\x00\x0d\x01" + (3).to_bytes(4, "big") + b"abc", "type 0x08"),
        (b"\x00\x00\x08\x02" + (3).to_bytes(4, "big"), "truncated"),
        (b"\x00\x00\x08\x01" + (5).to_bytes(4, "big") + b"abc", "promises"),
    ],
)
def test_read_idx_rejects_malformed_files_naming_them(
    tmp_path: Path, raw: bytes, expected: str
) -> None:
    path = tmp_path / "broken-idx1-ubyte"
    path.write_bytes(raw)
    with pytest.raises(DataError, match=expected) as info:
        read_idx(path)
    assert str(path) in str(info.value)


def test_idx_directory_concatenates_train_then_test(tmp_path: Path) -> None:
    labels = write_idx_set(tmp_path, 7, 3, gz=True)
    images, got = read_idx_directory(tmp_path)
    assert images.shape == (10, 28, 28)
    assert np.array_equal(got, labels)


def test_mismatched_image_and_label_counts_are_refused(tmp_path: Path) -> None:
    write_idx_set(tmp_path, 7, 3, gz=False)
    (tmp_path / "t10k-labels-idx1-ubyte").write_bytes(idx_bytes(np.zeros(4, dtype=np.uint8)))
    with pytest.raises(DataError, match=r"3 images .* but 4 labels"):
        read_idx_directory(tmp_path)


@pytest.mark.parametrize("name", ["mnist", "fashion-mnist"])
def test_idx_data_sets_load_from_data_dir_or_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    labels = write_idx_set(tmp_path / name, 6, 2, gz=True)
    monkeypatch.delenv("BAASIM_DATA", raising=False)
    direct = load_dataset(name, tmp_path)
    monkeypatch.setenv("BAASIM_DATA", str(tmp_path))
    via_env = load_dataset(name)
    for dataset in (direct, via_env):
        assert dataset.name == name
        assert dataset.x.shape == (8, 1, 28, 28) and dataset.x.dtype == torch.float32
        assert np.array_equal(dataset.labels(), labels)
    assert direct.fingerprint == via_env.fingerprint


def test_missing_mnist_says_how_to_fetch_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BAASIM_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("BAASIM_DATA", str(tmp_path / "nothing-here"))
    with pytest.raises(DataError, match="baasim data fetch mnist") as info:
        load_dataset("mnist")
    assert "nothing-here" in str(info.value)


def test_unknown_data_set_is_named() -> None:
    with pytest.raises(DataError, match="unknown data set 'cifar'"):
        load_dataset("cifar")


def test_mnist_5k_has_500_real_digits_per_class(mnist5k: Dataset) -> None:
    assert len(mnist5k) == 5000
    assert mnist5k.x.shape == (5000, 1, 28, 28)
    assert float(mnist5k.x.min()) == 0.0 and float(mnist5k.x.max()) == 1.0
    assert torch.bincount(mnist5k.y).tolist() == [500] * 10
    assert mnist5k.fingerprint == MNIST_5K_FINGERPRINT
    assert mnist5k.n_classes == 10


def test_fingerprint_is_sensitive_to_pixels_and_labels() -> None:
    images = np.zeros((3, 28, 28), dtype=np.uint8)
    labels = np.array([0, 1, 2])
    base = fingerprint(images, labels)
    images[1, 5, 5] = 1
    assert fingerprint(images, labels) != base
    assert fingerprint(np.zeros_like(images), np.array([0, 1, 3])) != base


def test_synthetic_is_deterministic_and_balanced() -> None:
    a, b = synthetic(200), synthetic(200)
    assert isinstance(a, Dataset) and a.fingerprint == b.fingerprint
    assert torch.equal(a.x, b.x)
    assert torch.bincount(a.y).tolist() == [20] * 10
    assert synthetic(200, seed=1).fingerprint != a.fingerprint
