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

Structured (``FusionConfig.structured``, Strategy II): phase 1 trains only A's diagonal
blocks, phase 2 goes on from them (Adam moments included) in the dense A, and with
``activation = "none"`` phase 2 and the scoring compute the logits through the C × D product
B·A, phase 2 with its gradients written out (``_factored_gradients``) instead of autograd's.
The same training and logits in exact arithmetic, several times fewer products; only the
floating-point rounding differs from the dense computation.

Many heads at once: a verifier scoring contributions needs a head per subset of models.
``train_heads`` trains all requested subsets together, as batched matrix products over
stacked parameters ([K, …]) grouped by shape and chunked to bound memory (each chunk trained
when the caller asks for it: see ``train_heads``); the loss is the
sum of the heads' own losses and Adam is element-wise, so each head trains exactly as it
would alone. All heads of one call share the minibatch order (from ``order_seed``); each
head's random start comes from its own seed, so a subset's head does not depend on which
other subsets were trained beside it (up to floating-point rounding).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional

from sim.learning.config import FusionConfig
from sim.learning.models import materialise
from sim.learning.optimisers import Adam, Widen

Members = tuple[int, ...]

CHUNK_FLOATS = 1 << 24
"""Budget (in float32 values) for one chunk's gathered features and parameters."""


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
        materialise(self)
        self.activation = activation

    def forward(self, f: torch.Tensor) -> torch.Tensor:
        h = self.A(f)
        if self.activation == "relu":
            h = functional.relu(h)
        out: torch.Tensor = self.B(h)
        return out

    def block_mask(self) -> torch.Tensor:
        """Boolean mask of A's diagonal blocks (model i's features → model i's hidden units)."""
        return block_mask(self.feature_widths, self.n_classes)


def block_mask(widths: Sequence[int], n_classes: int) -> torch.Tensor:
    """[n·C, Σ d_i] boolean mask: True where model i's features meet model i's hidden units."""
    mask = torch.zeros(n_classes * len(widths), sum(widths), dtype=torch.bool)
    column = 0
    for i, width in enumerate(widths):
        mask[i * n_classes : (i + 1) * n_classes, column : column + width] = True
        column += width
    return mask


@dataclass(eq=False)
class HeadBatch:
    """K trained heads of one shape: A [K, H, D], a [K, H], B [K, C, H], b [K, C].

    ``factored``: scored through the C × D product B·A (``FusionConfig.structured`` with
    activation "none": the same logits in exact arithmetic, n times fewer products).
    """

    members: list[Members]
    A: torch.Tensor
    a: torch.Tensor
    B: torch.Tensor
    b: torch.Tensor
    activation: str
    factored: bool = False

    def parameters(self) -> list[torch.Tensor]:
        return [self.A, self.a, self.B, self.b]

    def forward(self, f: torch.Tensor) -> torch.Tensor:
        """Logits [K, N, C] of gathered features ``f`` [K, N, D], through A then B."""
        return _dense_logits(f, self.A, self.a, self.B, self.b, self.activation)

    def accuracies(self, blocks: Sequence[torch.Tensor], y: torch.Tensor) -> list[float]:
        """Each head's accuracy on per-model features ``blocks`` [N, d_i] with labels ``y``."""
        if len(y) == 0:
            return [float("nan")] * len(self.members)
        width = self.A.shape[2]
        step = max(1, CHUNK_FLOATS // max(1, len(y) * width))
        out: list[float] = []
        with torch.inference_mode():
            for start in range(0, len(self.members), step):
                part = slice(start, start + step)
                f = gather(blocks, self.members[part])
                weights = (self.A[part], self.a[part], self.B[part], self.b[part])
                if self.factored:
                    logits = _factored_logits(f, *weights)
                else:
                    logits = _dense_logits(f, *weights, self.activation)
                out += (logits.argmax(dim=2) == y).float().mean(dim=1).tolist()
        return out

    def head(self, k: int, widths: Sequence[int]) -> FusionHead:
        """Head ``k`` as a stand-alone ``FusionHead`` module (widths of its members)."""
        module = FusionHead(widths, int(self.B.shape[1]), self.activation)
        with torch.no_grad():
            module.A.weight.copy_(self.A[k])
            module.A.bias.copy_(self.a[k])
            module.B.weight.copy_(self.B[k])
            module.B.bias.copy_(self.b[k])
        return module.to(self.A.device).eval()


def gather(blocks: Sequence[torch.Tensor], members: Sequence[Members]) -> torch.Tensor:
    """[K, N, D]: for each member list, its models' feature blocks concatenated."""
    return torch.stack([torch.cat([blocks[i] for i in m], dim=1) for m in members])


def train_heads(
    blocks: Sequence[torch.Tensor],
    y: torch.Tensor,
    outputs: Sequence[nn.Linear],
    coalitions: Sequence[Members],
    init_seeds: Sequence[int],
    config: FusionConfig,
    order_seed: int,
) -> Iterator[HeadBatch]:
    """Fused heads for each coalition (non-empty tuples of model indices), trained together.

    ``blocks[i]`` are model i's features [N, d_i] of the fitting data, ``outputs[i]`` its
    output layer (Strategy II's start). Yields the heads in batches that cover the
    coalitions, each batch's ``members`` in the order given, each batch trained when it is
    asked for: a caller that reads a batch and lets it go holds one chunk of heads at a
    time, however many coalitions it asked for (sampled Shapley values ask for thousands at
    once). Coalitions are checked at the call, before any batch.
    """
    widths = [int(t.shape[1]) for t in blocks]
    groups: dict[tuple[int, ...], list[int]] = {}
    for index, members in enumerate(coalitions):
        if not members:
            raise ValueError("coalitions: expected non-empty tuples of model indices")
        groups.setdefault(tuple(widths[i] for i in members), []).append(index)
    n_classes = int(outputs[0].out_features)

    def batches() -> Iterator[HeadBatch]:
        for shape, indices in groups.items():
            per_head = len(y) * sum(shape) + 4 * (n_classes * len(shape)) * (sum(shape) + n_classes)
            step = max(1, CHUNK_FLOATS // per_head)
            for start in range(0, len(indices), step):
                chosen = indices[start : start + step]
                batch = _start(
                    [coalitions[i] for i in chosen], [init_seeds[i] for i in chosen],
                    outputs, shape, config, blocks[0].device,
                )  # fmt: skip
                _fit(batch, gather(blocks, batch.members), y, shape, config, order_seed)
                yield batch

    return batches()


def fit_head(
    features: Sequence[torch.Tensor],
    y: torch.Tensor,
    outputs: Sequence[nn.Linear],
    config: FusionConfig,
    seed: int,
) -> FusionHead:
    """The fused head of models with these ``features`` [N, d_i] and output layers."""
    if not features:
        raise ValueError("features: expected at least one model's features")
    members = tuple(range(len(features)))
    (batch,) = train_heads(features, y, outputs, [members], [seed], config, seed)
    return batch.head(0, [int(t.shape[1]) for t in features])


def _start(
    members: list[Members],
    seeds: list[int],
    outputs: Sequence[nn.Linear],
    widths: tuple[int, ...],
    config: FusionConfig,
    device: torch.device,
) -> HeadBatch:
    """Starting parameters: seeded random (Strategy I) or from the output layers (II)."""
    n_classes = int(outputs[0].out_features)
    k, hidden, width = len(members), n_classes * len(widths), sum(widths)
    a_weight, a_bias = torch.empty(k, hidden, width), torch.empty(k, hidden)
    b_weight, b_bias = torch.empty(k, n_classes, hidden), torch.empty(k, n_classes)
    if config.strategy == "I":
        for j, seed in enumerate(seeds):  # PyTorch's default Linear start, per head's seed
            generator = torch.Generator().manual_seed(seed)
            for tensor, fan_in in (
                (a_weight[j], width), (a_bias[j], width), (b_weight[j], hidden), (b_bias[j], hidden)
            ):  # fmt: skip
                bound = 1.0 / math.sqrt(fan_in)
                tensor.uniform_(-bound, bound, generator=generator)
    else:
        a_weight.zero_()
        b_bias.zero_()
        b_weight.copy_(torch.eye(n_classes).repeat(1, len(widths)).expand(k, -1, -1))
        for j, group in enumerate(members):
            column = 0
            for slot, i in enumerate(group):
                rows = slice(slot * n_classes, (slot + 1) * n_classes)
                a_weight[j, rows, column : column + widths[slot]] = outputs[i].weight.detach().cpu()
                a_bias[j, rows] = outputs[i].bias.detach().cpu()
                column += widths[slot]
    a_weight, a_bias, b_weight, b_bias = (
        t.to(device).requires_grad_(True) for t in (a_weight, a_bias, b_weight, b_bias)
    )
    factored = config.strategy == "II" and config.structured and config.activation == "none"
    return HeadBatch(members, a_weight, a_bias, b_weight, b_bias, config.activation, factored)


def _fit(
    batch: HeadBatch,
    f: torch.Tensor,
    y: torch.Tensor,
    widths: tuple[int, ...],
    config: FusionConfig,
    order_seed: int,
) -> None:
    generator = torch.Generator().manual_seed(order_seed)
    if config.strategy == "I":
        trainer = _Trainer(batch.parameters(), f, y, config, generator, config.lr, False)
        trainer.run(batch.forward, config.epochs)
    elif config.structured and len(set(widths)) == 1:
        _fit_structured(batch, f, y, widths[0], config, generator)
    else:
        trainer = _Trainer(
            batch.parameters(), f, y, config, generator, config.phase_lr, config.decay_to_start
        )
        mask = block_mask(widths, int(batch.B.shape[1])).to(f.device)
        trainer.run(batch.forward, config.phase1_epochs, mask=mask)
        trainer.run(batch.forward, config.phase2_epochs)
    for p in batch.parameters():
        p.grad = None  # a trained head keeps its weights, not its last step's gradients
        p.requires_grad_(False)


def _fit_structured(
    batch: HeadBatch,
    f: torch.Tensor,
    y: torch.Tensor,
    width: int,
    config: FusionConfig,
    generator: torch.Generator,
) -> None:
    """Strategy II through the head's structure (``FusionConfig.structured``).

    Phase 1 trains only A's diagonal blocks, [K, n, C, d] (the dense path multiplies by the
    off-diagonal zeros and masks their gradients: in exact arithmetic their Adam moments
    stay zero and they never move, so dropping them changes nothing but rounding). Phase 2
    scatters the blocks, and their Adam moments, into the dense A and goes on with the same
    optimiser; with ``activation = "none"`` its logits are f·(B·A)ᵀ + (B·a + b), whose
    gradients cost C × D products instead of (n·C) × D ones.
    """
    k, n_classes = len(batch.members), int(batch.B.shape[1])
    n = int(batch.A.shape[2]) // width
    diagonal = _diagonal(batch.A, n, width)  # [K, C, d, n], a view of A
    blocks = diagonal.permute(0, 3, 1, 2).detach().clone().requires_grad_(True)  # [K, n, C, d]

    def phase1(rows: torch.Tensor) -> torch.Tensor:
        # each model's C × d block times its d × B features: of the shapes of this product,
        # the one with B last is several times faster (tiny matrices, one per model)
        per_model = rows.reshape(k, -1, n, width).permute(0, 2, 3, 1).reshape(k * n, width, -1)
        h = torch.bmm(blocks.reshape(k * n, n_classes, width), per_model)  # [K·n, C, B]
        h = h.reshape(k, n, n_classes, -1).permute(0, 3, 1, 2).reshape(k, -1, n * n_classes)
        h = h + batch.a.unsqueeze(1)
        if batch.activation == "relu":
            h = functional.relu(h)
        return torch.baddbmm(batch.b.unsqueeze(1), h, batch.B.transpose(1, 2))

    params = [blocks, batch.a, batch.B, batch.b]
    trainer = _Trainer(params, f, y, config, generator, config.phase_lr, config.decay_to_start)
    trainer.run(phase1, config.phase1_epochs)
    with torch.no_grad():
        batch.A.zero_()
        diagonal.copy_(blocks.permute(0, 2, 3, 1))
    trainer.replace(blocks, batch.A, lambda t: _dense(t, n, width, n_classes))

    if batch.factored:

        def phase2(rows: torch.Tensor, y: torch.Tensor) -> None:
            grads = _factored_gradients(rows, y, batch.A, batch.a, batch.B, batch.b)
            for p, grad in zip((batch.A, batch.a, batch.B, batch.b), grads, strict=True):
                p.grad = grad

        trainer.run_with(phase2, config.phase2_epochs)
    else:
        trainer.run(batch.forward, config.phase2_epochs)


def _dense_logits(
    f: torch.Tensor,
    a_weight: torch.Tensor,
    a_bias: torch.Tensor,
    b_weight: torch.Tensor,
    b_bias: torch.Tensor,
    activation: str,
) -> torch.Tensor:
    """Logits [K, N, C] through the hidden layer: B·act(A·f + a) + b."""
    h = torch.baddbmm(a_bias.unsqueeze(1), f, a_weight.transpose(1, 2))
    if activation == "relu":
        h = functional.relu(h)
    return torch.baddbmm(b_bias.unsqueeze(1), h, b_weight.transpose(1, 2))


def _factored_logits(
    f: torch.Tensor,
    a_weight: torch.Tensor,
    a_bias: torch.Tensor,
    b_weight: torch.Tensor,
    b_bias: torch.Tensor,
) -> torch.Tensor:
    """Logits [K, N, C] of a head without activation: f·(B·A)ᵀ + (B·a + b)."""
    w, c = _product(a_weight, a_bias, b_weight, b_bias)
    return torch.baddbmm(c.transpose(1, 2), f, w.transpose(1, 2))


def _product(
    a_weight: torch.Tensor,
    a_bias: torch.Tensor,
    b_weight: torch.Tensor,
    b_bias: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor]:
    """A head without activation as one layer: W = B·A [K, C, D] and c = B·a + b [K, C, 1]."""
    w = torch.bmm(b_weight, a_weight)
    c = torch.baddbmm(b_bias.unsqueeze(2), b_weight, a_bias.unsqueeze(2))
    return w, c


@torch.no_grad()
def _factored_gradients(
    f: torch.Tensor,
    y: torch.Tensor,
    a_weight: torch.Tensor,
    a_bias: torch.Tensor,
    b_weight: torch.Tensor,
    b_bias: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Gradients of the heads' summed mean cross-entropy on ``f`` [K, B, D], labels ``y``
    [B], for logits f·(B·A)ᵀ + (B·a + b), written out: with G = (softmax − one-hot) / B
    [K, C, B] (logits transposed), W = B·A and c = B·a + b get G·f and ΣG, and those reach
    A, a, B and b through the product. What autograd computes, in fewer and faster products
    (the C-wide ones in their fastest shapes) and without its graph."""
    w, c = _product(a_weight, a_bias, b_weight, b_bias)
    g = torch.softmax(torch.baddbmm(c, w, f.transpose(1, 2)), dim=1)  # [K, C, B]
    columns = torch.arange(len(y), device=f.device)
    g[:, y, columns] -= 1
    g /= len(y)
    dw = torch.bmm(g, f)  # [K, C, D]
    dc = g.sum(dim=2, keepdim=True)  # [K, C, 1]
    b_t = b_weight.transpose(1, 2)
    d_a_weight = torch.bmm(b_t, dw)
    d_a_bias = torch.bmm(b_t, dc).squeeze(2)
    d_b_weight = torch.baddbmm(torch.bmm(dc, a_bias.unsqueeze(1)), dw, a_weight.transpose(1, 2))
    return d_a_weight, d_a_bias, d_b_weight, dc.squeeze(2)


def _diagonal(a: torch.Tensor, n: int, width: int) -> torch.Tensor:
    """A view of the diagonal blocks of ``a`` [K, n·C, n·d], as [K, C, d, n]."""
    k, hidden, _ = a.shape
    return a.view(k, n, hidden // n, n, width).diagonal(dim1=1, dim2=3)


def _dense(blocks: torch.Tensor, n: int, width: int, n_classes: int) -> torch.Tensor:
    """[K, n, C, d] blocks as the block-diagonal [K, n·C, n·d] matrix (zeros elsewhere)."""
    out = blocks.new_zeros(blocks.shape[0], n * n_classes, n * width)
    _diagonal(out, n, width).copy_(blocks.permute(0, 2, 3, 1))
    return out


class _Trainer:
    """Adam on the heads' summed cross-entropy, L2 pull towards zero or the start."""

    def __init__(
        self,
        params: list[torch.Tensor],
        f: torch.Tensor,
        y: torch.Tensor,
        config: FusionConfig,
        generator: torch.Generator,
        lr: float,
        anchored: bool,
    ):
        self.f, self.y = f, y
        self.batch_size = config.batch_size
        self.decay = config.weight_decay
        self.generator = generator
        # The fused (single-kernel) Adam: heads are small, so per-step overhead dominates.
        self.optimiser = Adam(params, lr=lr, fused=True)
        self.params = self.optimiser.params  # one list: ``replace`` swaps in both
        self.anchors = [p.detach().clone() if anchored else None for p in self.params]
        self._scratch: dict[int, torch.Tensor] = {}

    def run(
        self,
        forward: Callable[[torch.Tensor], torch.Tensor],
        epochs: int,
        mask: torch.Tensor | None = None,
    ) -> None:
        """``epochs`` passes over the data, gradients by autograd through ``forward``'s
        logits [K, B, C]; ``mask`` holds the first parameter's (A's) entries outside it at
        zero."""
        k = int(self.f.shape[0])

        def gradients(f: torch.Tensor, y: torch.Tensor) -> None:
            logits = forward(f)
            # Sum over heads of each head's mean loss: every head gets its own gradient.
            loss = functional.cross_entropy(
                logits.reshape(-1, logits.shape[2]), y.repeat(k), reduction="sum"
            ) / len(y)
            loss.backward()

        self.run_with(gradients, epochs, mask)

    def run_with(
        self,
        gradients: Callable[[torch.Tensor, torch.Tensor], None],
        epochs: int,
        mask: torch.Tensor | None = None,
    ) -> None:
        """``epochs`` passes over the data; ``gradients(f, y)`` sets each parameter's
        ``grad`` from a minibatch's features [K, B, D] and labels [B]."""
        y, first = self.y, self.params[0]
        for _ in range(epochs):
            order = torch.randperm(len(y), generator=self.generator).to(self.f.device)
            for start in range(0, len(y), self.batch_size):
                rows = order[start : start + self.batch_size]
                self.optimiser.zero_grad(set_to_none=True)
                gradients(self.f[:, rows], y[rows])
                self._decay()
                if mask is not None and first.grad is not None:
                    first.grad.mul_(mask)
                self.optimiser.step()
                if mask is not None:
                    with torch.no_grad():
                        first.mul_(mask)

    def replace(self, old: torch.Tensor, new: torch.Tensor, widen: Widen) -> None:
        """Train ``new`` in place of ``old`` from here on: its Adam moments and anchor are
        ``old``'s through ``widen``, the step count is carried over."""
        index = self.optimiser.replace(old, new, widen)
        anchor = self.anchors[index]
        self.anchors[index] = None if anchor is None else widen(anchor)

    def _decay(self) -> None:
        if self.decay == 0:
            return
        with torch.no_grad():
            for i, (p, anchor) in enumerate(zip(self.params, self.anchors, strict=True)):
                if p.grad is None:
                    continue
                p.grad.add_(p if anchor is None else self._pull(i, p, anchor), alpha=self.decay)

    def _pull(self, i: int, p: torch.Tensor, anchor: torch.Tensor) -> torch.Tensor:
        """p − anchor, into a buffer kept across steps: a fresh one each step (A: ~2 MB) cost
        more in page faults than the subtraction itself."""
        buffer = self._scratch.get(i)
        if buffer is None or buffer.shape != p.shape:
            buffer = self._scratch[i] = torch.empty_like(p)
        return torch.sub(p, anchor, out=buffer)
