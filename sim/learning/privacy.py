"""Privacy, measured: membership inference against published models.

(Differentially private training, the defence, is a training mode: ``fit_private`` in
``sim.learning.training``.)

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
