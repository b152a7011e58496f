"""Privacy, measured: membership inference against published models.

**DP-SGD** (``fit_private``, kept in ``sim.learning.training`` beside ``fit`` so that the
two modules import in one direction only) trains like ``fit`` but through Opacus: per-sample
gradients clipped to ``max_grad_norm``, Gaussian noise calibrated by Opacus's RDP accountant
so the whole training spends the configured (ε, δ), and Poisson-sampled minibatches (rate
batch_size / shard size). It is deterministic: the data order and the noise come from
generators seeded by the request's seed (``training_seeds``), never from the global RNG;
Opacus's ``secure_mode`` (a cryptographic noise source) is off, since a simulation must be
repeatable. The spent ε (``get_epsilon``) is returned and recorded.

**Membership inference** asks: given a published model and a sample, was the sample in the
contributor's training shard? Two attacks, each scoring every candidate (higher: "member"):

- **loss threshold** (Yeom et al. 2018): the score is minus the sample's cross-entropy loss
  under the target model — training samples tend to have lower loss;
- **offline likelihood ratio** (LiRA, Carlini et al. 2022, its offline variant): reference
  models trained by the attacker on public data of the same distribution (never the
  candidates) give, per candidate, the distribution of its logit-scaled confidence
  φ = log p_y − log(1 − p_y) when it is *out* of training; the score is how far the target's
  φ lies above that Gaussian ((φ − μ_out) / σ_out). Offline: no model is trained per
  candidate, so the cost is a fixed number of reference models.

Each attack is judged on members (the contributor's training samples) against non-members
(held-out samples no agent trained on) by ``roc``: ROC AUC (0.5: the attacker does no better
than a coin; 1: it tells every member apart) and the true-positive rate at 1 % and 0.1 %
false-positive rate, the low-FPR figures the literature asks for, since an average-case AUC
hides the few most exposed samples. A TPR at an FPR below 1 / (non-members) is the TPR at
zero false positives. Written here, not taken from a library: ART has no LiRA, and the
attacks need only a model's logits (the README says why in full).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch.nn import functional

from sim.learning.config import FusionConfig
from sim.learning.features import LabelledData
from sim.learning.models import Net
from sim.learning.training import fit_private

__all__ = ["AttackResult", "FusedNet", "fit_private", "fuse", "lira_offline", "loss_attack", "roc"]

FPRS = (0.01, 0.001)
"""The false-positive rates at which the true-positive rate is reported."""


# ---------------------------------------------------------------- membership inference


@dataclass(frozen=True)
class AttackResult:
    """How well an attack tells members from non-members."""

    attack: str
    auc: float
    """ROC AUC in [0, 1]: 0.5 is chance, 1 a perfect attack."""
    tpr_at_1pct: float
    """True-positive rate at 1 % false positives, in [0, 1]."""
    tpr_at_01pct: float
    """True-positive rate at 0.1 % false positives, in [0, 1]."""
    members: int
    non_members: int


def roc(member_scores: np.ndarray, non_member_scores: np.ndarray) -> tuple[float, float, float]:
    """(AUC, TPR at 1 % FPR, TPR at 0.1 % FPR) of scores where higher means "member".

    The AUC is the Mann-Whitney statistic (ties count half); the TPR at an FPR is the
    largest fraction of members scored above a threshold that at most that fraction of
    non-members exceed."""
    m = np.asarray(member_scores, dtype=float)
    n = np.asarray(non_member_scores, dtype=float)
    if len(m) == 0 or len(n) == 0:
        return math.nan, math.nan, math.nan
    ranks = _ranks(np.concatenate([m, n]))
    auc = (ranks[: len(m)].sum() - len(m) * (len(m) + 1) / 2) / (len(m) * len(n))
    return float(auc), _tpr_at(m, n, FPRS[0]), _tpr_at(m, n, FPRS[1])


def _ranks(x: np.ndarray) -> np.ndarray:
    """Ranks from 1, ties sharing their mean rank."""
    order = np.argsort(x, kind="stable")
    ranks = np.empty(len(x))
    ranks[order] = np.arange(1, len(x) + 1)
    values, inverse, counts = np.unique(x, return_inverse=True, return_counts=True)
    sums = np.bincount(inverse, weights=ranks)
    return (sums / counts)[inverse] if len(values) < len(x) else ranks


def _tpr_at(m: np.ndarray, n: np.ndarray, fpr: float) -> float:
    allowed = math.floor(fpr * len(n))  # non-members that may score above the threshold
    threshold = np.sort(n)[::-1][allowed] if allowed < len(n) else -np.inf
    return float((m > threshold).mean())


def losses(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> np.ndarray:
    """Per-sample cross-entropy of ``model`` on (x, y)."""
    with torch.inference_mode():
        out: np.ndarray = functional.cross_entropy(model(x), y, reduction="none").cpu().numpy()
        return out


def confidences(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> np.ndarray:
    """Per-sample logit-scaled confidence φ = log p_y − log(1 − p_y), computed from the
    logits stably: z_y − logsumexp(z_j, j ≠ y)."""
    with torch.inference_mode():
        z = model(x).double()
        true = z.gather(1, y[:, None]).squeeze(1)
        others = z.scatter(1, y[:, None], -math.inf)
        out: np.ndarray = (true - torch.logsumexp(others, dim=1)).cpu().numpy()
        return out


def loss_attack(
    target: torch.nn.Module, members: tuple[torch.Tensor, torch.Tensor],
    non_members: tuple[torch.Tensor, torch.Tensor],
) -> AttackResult:  # fmt: skip
    """The loss-threshold attack: score = −loss."""
    auc, t1, t01 = roc(-losses(target, *members), -losses(target, *non_members))
    return AttackResult("loss", auc, t1, t01, len(members[1]), len(non_members[1]))


def lira_offline(
    target: torch.nn.Module,
    references: Sequence[torch.nn.Module],
    members: tuple[torch.Tensor, torch.Tensor],
    non_members: tuple[torch.Tensor, torch.Tensor],
) -> AttackResult:
    """Offline LiRA: each candidate's φ under the target against the Gaussian its φ follows
    under reference models that never trained on it."""
    if len(references) < 2:
        raise ValueError("lira_offline: expected at least two reference models")

    def scores(x: torch.Tensor, y: torch.Tensor) -> np.ndarray:
        out = np.stack([confidences(r, x, y) for r in references])
        mu = out.mean(axis=0)
        # a per-sample spread from few references is noisy: floor it at the global spread
        sigma = np.maximum(out.std(axis=0, ddof=1), out.std(ddof=1) * 0.1 + 1e-12)
        score: np.ndarray = (confidences(target, x, y) - mu) / sigma
        return score

    auc, t1, t01 = roc(scores(*members), scores(*non_members))
    return AttackResult("lira_offline", auc, t1, t01, len(members[1]), len(non_members[1]))


# ---------------------------------------------------------------- the fused model


class FusedNet(torch.nn.Module):
    """Frozen base models and a fusion head as one network: x → head(f_1(x) ‖ … ‖ f_n(x))."""

    def __init__(self, models: Sequence[Net], head: torch.nn.Module):
        super().__init__()
        self.bases = list(models)
        self.models = torch.nn.ModuleList(models)
        self.head = head

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = torch.cat([m.features(x) for m in self.bases], dim=1)
        out: torch.Tensor = self.head(features)
        return out


def fuse(
    models: Sequence[Net], verification: LabelledData, config: FusionConfig, seed: int
) -> FusedNet:
    """The fused model a verifier (or the initiator) builds from ``models`` with ``seed``:
    the head of all of them, trained exactly as ``SubsetFusion`` trains it (the same fitting
    rows of the verification data, the same start and minibatch order), on the CPU."""
    from sim.learning.evaluation import head_seed, split_rows
    from sim.learning.features import extract_features
    from sim.learning.fusion import train_heads

    cpu = torch.device("cpu")
    fit_rows = torch.from_numpy(split_rows(len(verification), config.holdout_fraction, seed)[0])
    x, y = verification.x[fit_rows], verification.y[fit_rows]
    blocks = [extract_features(m, x, cpu) for m in models]
    members = tuple(range(len(models)))
    outputs = [m.output for m in models]
    (batch,) = train_heads(blocks, y, outputs, [members], [head_seed(seed, members)], config, seed)
    head = batch.head(0, [int(b.shape[1]) for b in blocks])
    return FusedNet([m.cpu().eval() for m in models], head.cpu()).eval()
