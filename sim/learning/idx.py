"""IDX files (the MNIST family's format): reading one file, or a directory of the four parts.

Both the data-set loaders (``sim.learning.datasets``) and the downloader
(``sim.learning.fetch``) read IDX, so it has its own module beneath both.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np

from sim.errors import DataError

IMAGE_SIDE = 28
IDX_PARTS = (
    ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
)


def read_idx(path: Path) -> np.ndarray:
    """The uint8 array stored in an IDX file (gzip-compressed when the name ends in .gz)."""
    try:
        raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    except (OSError, EOFError, gzip.BadGzipFile) as err:
        raise DataError(f"{path}: cannot read IDX file: {err}") from err
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise DataError(f"{path}: not an IDX file (bad magic number)")
    if raw[2] != 0x08:
        raise DataError(f"{path}: expected unsigned-byte IDX data (type 0x08), got {raw[2]:#04x}")
    ndim = raw[3]
    header = 4 + 4 * ndim
    if ndim == 0 or len(raw) < header:
        raise DataError(f"{path}: truncated IDX header")
    dims = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    expected = int(np.prod(dims))
    if len(raw) - header != expected:
        raise DataError(
            f"{path}: IDX header promises {dims} = {expected} bytes, file has {len(raw) - header}"
        )
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(dims)


def _find_idx(directory: Path, stem: str) -> Path | None:
    for candidate in (directory / stem, directory / f"{stem}.gz"):
        if candidate.is_file():
            return candidate
    return None


def idx_directory_complete(directory: Path) -> bool:
    """Whether ``directory`` holds the four standard IDX files (plain or gzipped)."""
    return all(_find_idx(directory, stem) for part in IDX_PARTS for stem in part)


def read_idx_directory(directory: Path) -> tuple[np.ndarray, np.ndarray]:
    """Images and labels of the train then t10k IDX files in ``directory``, concatenated."""
    images, labels = [], []
    for image_stem, label_stem in IDX_PARTS:
        image_path = _find_idx(directory, image_stem)
        label_path = _find_idx(directory, label_stem)
        if image_path is None or label_path is None:
            raise DataError(f"{directory}: missing {image_stem} or {label_stem} (.gz or plain)")
        imgs, labs = read_idx(image_path), read_idx(label_path)
        if imgs.ndim != 3 or imgs.shape[1:] != (IMAGE_SIDE, IMAGE_SIDE) or labs.ndim != 1:
            raise DataError(f"{image_path}: expected images [N, 28, 28], got {imgs.shape}")
        if imgs.shape[0] != labs.shape[0]:
            raise DataError(
                f"{directory}: {imgs.shape[0]} images in {image_path.name} but "
                f"{labs.shape[0]} labels in {label_path.name}"
            )
        images.append(imgs)
        labels.append(labs)
    return np.concatenate(images), np.concatenate(labels)
