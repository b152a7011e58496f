"""Training a contributor's model, and the content-keyed cache that makes retraining free.

A ``TrainRequest`` names everything that determines the trained weights: the data set (by
content fingerprint), the shard's train and local-validation indices, the architecture,
the training hyper-parameters, the seed, the label-flip rate (for poisoners), and, through
``TrainRequest.key``, the numeric environment (torch version, device type, CPU threads: they
can change the last bits of the weights) and ``CODE_VERSION``. ``train``
returns safetensors bytes, the accuracy on the local validation indices and how many
samples it processed (train samples × epochs; the simulator charges compute time from
it). With a ``TrainingCache`` a repeated request is one file read.

Training is plain minibatch SGD/Adam on cross-entropy: the shard is gathered onto the
device once, each epoch visits it in a fresh permutation drawn from a seeded
``torch.Generator``. Label flipping replaces the label y of a random ``label_flip_rate``
fraction of training samples by C − 1 − y (no digit keeps its label). ``epochs = 0`` gives
the seeded initial weights: a free-rider's untrained model. With ``training.privacy``
the model is trained with DP-SGD instead (``fit_private``, Opacus) and the ε it spent is
returned and cached with it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional

from sim.config import to_table
from sim.errors import DataError
from sim.learning.config import DP_TRAINING_KEYS, ModelConfig, TrainConfig
from sim.learning.datasets import Dataset
from sim.learning.device import numeric_environment, resolve_device
from sim.learning.features import FEATURE_BATCH
from sim.learning.models import Net, build_model
from sim.learning.optimisers import make_optimiser, torch_optimiser
from sim.learning.partition import Shard
from sim.learning.safety import content_hash, to_bytes
from sim.paths import atomic_write, cache_dir, exclusive

CODE_VERSION = "train-1"
"""Bump when a change to this module (or the models) changes the weights it produces."""

BATCHED_VERSION = "vmap-1"
"""Key component of batched training (``sim.learning.batched``); bump when it changes the
weights it produces."""


@dataclass(frozen=True, eq=False)
class TrainRequest:
    """What a contributor trains: data by content, architecture, hyper-parameters, seed."""

    dataset: str
    train_indices: np.ndarray
    validation_indices: np.ndarray
    model: ModelConfig
    training: TrainConfig
    seed: int
    label_flip_rate: float = 0.0

    def __post_init__(self) -> None:
        if not 0.0 <= self.label_flip_rate <= 1.0:
            raise ValueError(
                f"label_flip_rate: expected a fraction in [0, 1], got {self.label_flip_rate!r}"
            )
        if self.seed < 0:
            raise ValueError(f"seed: expected a non-negative integer, got {self.seed}")

    @classmethod
    def for_shard(
        cls,
        dataset: Dataset,
        shard: Shard,
        model: ModelConfig,
        training: TrainConfig,
        seed: int,
        label_flip_rate: float = 0.0,
    ) -> TrainRequest:
        """The request to train on ``shard`` of ``dataset``."""
        return cls(
            dataset.fingerprint, shard.train, shard.validation, model, training, seed,
            label_flip_rate,
        )  # fmt: skip

    @property
    def batched(self) -> bool:
        """Whether this request is trained in a stacked batch (``training.batched``).

        Untrained requests (``epochs = 0``) never are: their weights are the seeded
        initialisation either way, so they keep the one-at-a-time key. Nor is differentially
        private training (``training.privacy``): its per-sample clipping and noise are
        Opacus's, one model at a time.
        """
        return self.training.batched and self.training.epochs > 0 and self.training.privacy is None

    def key(self, device: torch.device | None = None) -> str:
        """SHA-256 over everything that determines the result, on ``device`` (default: auto).

        A batched request's key has one more component (``BATCHED_VERSION``): its weights
        differ from one-at-a-time training in the last bits, so the two never share an entry.
        One-at-a-time keys are those of before the switch existed.
        """
        device = device or resolve_device(self.training.device)
        training = to_table(self.training)
        training.pop("device")
        training.pop("batched")
        if (privacy := training.get("privacy")) is None:
            training.pop("privacy", None)  # models trained before the option keep their keys
        elif isinstance(privacy, dict):
            for name in DP_TRAINING_KEYS:  # unset: DP models trained before they existed
                if privacy.get(name) is None:
                    privacy.pop(name, None)
        described: dict[str, object] = {
            "code": CODE_VERSION,
            "env": numeric_environment(device),
            "dataset": self.dataset,
            "model": to_table(self.model),
            "training": training,
            "seed": self.seed,
            "label_flip_rate": self.label_flip_rate,
        }
        if self.batched:
            described["batched"] = BATCHED_VERSION
        h = hashlib.sha256(json.dumps(described, sort_keys=True).encode())
        for indices in (self.train_indices, self.validation_indices):
            array = np.ascontiguousarray(indices, dtype=np.int64)
            h.update(len(array).to_bytes(8, "little"))
            h.update(array.tobytes())
        return h.hexdigest()


@dataclass(frozen=True)
class TrainedModel:
    """Result of a training request. ``validation_accuracy`` is NaN without validation data."""

    weights: bytes
    validation_accuracy: float
    samples_processed: int
    key: str
    from_cache: bool = False
    epsilon: float | None = None
    """The privacy budget spent (DP training, Opacus's accountant); None without DP."""


class TrainingCache:
    """Trained models on disk, keyed by ``TrainRequest.key``; safe for concurrent processes.

    Each entry is ``<key>.safetensors`` and then ``<key>.json`` (accuracy, samples, SHA-256
    of the weights), each written to a temporary file and renamed into place, so a reader
    sees a whole entry or none. An entry whose weights fail the SHA-256 is a miss. ``train``
    trains a missing entry under ``claim(key)``, so processes sharing the directory (a
    sweep's workers) train each distinct model once.
    """

    def __init__(self, directory: Path | str | None = None):
        self.directory = Path(directory) if directory is not None else cache_dir("models")
        self.hits = 0
        self.misses = 0

    def _paths(self, key: str) -> tuple[Path, Path]:
        folder = self.directory / key[:2]
        return folder / f"{key}.safetensors", folder / f"{key}.json"

    def get(self, key: str) -> TrainedModel | None:
        """The entry under ``key``, counted as a hit, or None (a miss)."""
        entry = self.read(key)
        if entry is None:
            self.misses += 1
        else:
            self.hits += 1
        return entry

    def read(self, key: str) -> TrainedModel | None:
        """The entry under ``key`` if it is whole and its weights match their SHA-256."""
        weights_path, note_path = self._paths(key)
        try:
            note = json.loads(note_path.read_text())
            weights = weights_path.read_bytes()
        except (OSError, ValueError):
            return None
        if content_hash(weights) != note.get("sha256"):
            return None
        return TrainedModel(
            weights, float(note["validation_accuracy"]), int(note["samples_processed"]), key,
            from_cache=True, epsilon=note.get("epsilon"),
        )  # fmt: skip

    def has(self, key: str) -> bool:
        """Whether both files of the entry under ``key`` exist (not checked against the hash)."""
        return all(path.exists() for path in self._paths(key))

    def claim(self, key: str) -> contextlib.AbstractContextManager[None]:
        """Hold the lock on ``key`` across processes (an advisory ``flock`` beside the entry).

        Whoever holds it trains and stores a missing entry; others asking for the same key
        wait, then read it: concurrent runs of a sweep train each distinct model once.
        """
        return exclusive(self._paths(key)[0].with_name(f".{key}.lock"))

    def put(self, result: TrainedModel) -> None:
        weights_path, note_path = self._paths(result.key)
        weights_path.parent.mkdir(parents=True, exist_ok=True)
        note = {
            "sha256": content_hash(result.weights),
            "validation_accuracy": result.validation_accuracy,
            "samples_processed": result.samples_processed,
        }
        if result.epsilon is not None:
            note["epsilon"] = result.epsilon
        atomic_write(weights_path, result.weights)
        atomic_write(note_path, json.dumps(note).encode())


def train(
    request: TrainRequest, dataset: Dataset, cache: TrainingCache | None = None
) -> TrainedModel:
    """Train (or fetch from ``cache``) the model ``request`` describes, on ``dataset``."""
    if request.dataset != dataset.fingerprint:
        raise DataError(
            f"training request names data set {request.dataset[:12]}…, "
            f"got {dataset.name} ({dataset.fingerprint[:12]}…)"
        )
    device = resolve_device(request.training.device)
    key = request.key(device)
    if cache is None:
        return _train(request, dataset, device, key)
    if (hit := cache.read(key)) is None:
        with cache.claim(key):
            # another process may have trained it while this one waited for the lock
            if (hit := cache.read(key)) is None:
                cache.misses += 1
                result = _train(request, dataset, device, key)
                cache.put(result)
                return result
    cache.hits += 1
    return hit


def _train(request: TrainRequest, dataset: Dataset, device: torch.device, key: str) -> TrainedModel:
    epsilon = None
    if request.training.privacy is None:
        model, processed = fit(request, dataset, device)
    else:
        model, processed, epsilon = fit_private(request, dataset, device)
    x_val, y_val = gather(dataset, request.validation_indices, device)
    return TrainedModel(
        to_bytes(model), accuracy(model, x_val, y_val), processed, key, epsilon=epsilon
    )


def gather(
    dataset: Dataset, indices: np.ndarray, device: torch.device
) -> tuple[torch.Tensor, torch.Tensor]:
    """Images and labels at ``indices``, copied onto ``device``."""
    rows = torch.from_numpy(np.array(indices, dtype=np.int64))
    return dataset.x[rows].to(device), dataset.y[rows].to(device)


def _seeds(seed: int) -> tuple[int, int]:
    init, order = np.random.SeedSequence(seed).generate_state(2, np.uint32)
    return int(init), int(order)


def training_seeds(seed: int) -> tuple[int, int, int]:
    """The initialisation, data-order and (DP) noise seeds of a training ``seed``; the
    first two are those of non-private training."""
    init, order, noise = np.random.SeedSequence(seed).generate_state(3, np.uint32)
    return int(init), int(order), int(noise)


def fit(request: TrainRequest, dataset: Dataset, device: torch.device) -> tuple[Net, int]:
    """The trained network and the number of samples processed (train size × epochs)."""
    init_seed, order_seed = _seeds(request.seed)
    model = build_model(request.model, dataset.n_classes, seed=init_seed, device=device)
    generator = torch.Generator().manual_seed(order_seed)
    x, y = gather(dataset, request.train_indices, device)
    if request.label_flip_rate > 0:
        flipped = torch.rand(len(y), generator=generator) < request.label_flip_rate
        y = torch.where(flipped.to(device), dataset.n_classes - 1 - y, y)
    config = request.training
    optimiser = make_optimiser(model.parameters(), config)
    model.train()
    for _ in range(config.epochs):
        order = torch.randperm(len(y), generator=generator).to(device)
        for start in range(0, len(y), config.batch_size):
            batch = order[start : start + config.batch_size]
            loss = functional.cross_entropy(model(x[batch]), y[batch])
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
    model.eval()
    return model, len(y) * config.epochs


def accuracy(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch: int = FEATURE_BATCH
) -> float:
    """Fraction of ``x`` that ``model`` labels as ``y``; NaN for no samples."""
    if len(y) == 0:
        return float("nan")
    correct = 0
    with torch.inference_mode():
        for start in range(0, len(y), batch):
            logits = model(x[start : start + batch])
            correct += int((logits.argmax(dim=1) == y[start : start + batch]).sum())
    return correct / len(y)


def fit_private(
    request: TrainRequest, dataset: Dataset, device: torch.device
) -> tuple[Net, int, float]:
    """The network trained with DP-SGD, the samples processed (expected: shard × epochs),
    and the ε Opacus's accountant says was spent at the configured δ.

    DP-SGD through Opacus: per-sample gradients clipped to ``max_grad_norm``, Gaussian noise
    calibrated by Opacus's RDP accountant so the whole training spends the configured
    (ε, δ), and Poisson-sampled minibatches (rate batch_size / shard size). Deterministic:
    the data order and the noise come from generators seeded by the request's seed
    (``training_seeds``), never the global RNG; Opacus's ``secure_mode`` (a cryptographic
    noise source) is off, since a simulation must be repeatable."""
    import warnings

    from opacus import PrivacyEngine  # type: ignore[import-untyped]
    from torch.utils.data import DataLoader, TensorDataset

    privacy = request.training.privacy
    if privacy is None or privacy.max_grad_norm is None:
        raise ValueError("fit_private: the request has no privacy settings")
    config = privacy.training(request.training)  # its own epochs, batch, optimiser, if set
    init_seed, order_seed, noise_seed = training_seeds(request.seed)
    model = build_model(request.model, dataset.n_classes, seed=init_seed, device=device)
    x, y = gather(dataset, request.train_indices, device)
    if request.label_flip_rate > 0:
        order = torch.Generator().manual_seed(order_seed)
        flipped = torch.rand(len(y), generator=order) < request.label_flip_rate
        y = torch.where(flipped.to(device), dataset.n_classes - 1 - y, y)
    loader = DataLoader(
        TensorDataset(x, y),
        batch_size=min(config.batch_size, len(y)),
        generator=torch.Generator().manual_seed(order_seed),
    )
    optimiser = torch_optimiser(model.parameters(), config)
    with warnings.catch_warnings():
        # Opacus warns that secure_mode is off: a simulation wants repeatable noise
        warnings.simplefilter("ignore", UserWarning)
        engine = PrivacyEngine(accountant="rdp")
        private, dp_optimiser, dp_loader = engine.make_private_with_epsilon(
            module=model,
            optimizer=optimiser,
            data_loader=loader,
            target_epsilon=privacy.epsilon,
            target_delta=privacy.delta,
            epochs=max(1, config.epochs),
            max_grad_norm=privacy.max_grad_norm,
            noise_generator=torch.Generator(device=device).manual_seed(noise_seed),
        )
        private.train()
        for _ in range(config.epochs):
            for xb, yb in dp_loader:
                if len(yb) == 0:  # Poisson sampling may draw an empty batch
                    continue
                loss = functional.cross_entropy(private(xb), yb)
                dp_optimiser.zero_grad(set_to_none=True)
                loss.backward()
                dp_optimiser.step()
        epsilon = float(engine.get_epsilon(privacy.delta)) if config.epochs else 0.0
    private.remove_hooks()
    model.eval()  # Opacus trained ``model`` in place, through hooks
    return model, len(y) * config.epochs, epsilon
