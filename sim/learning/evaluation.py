"""The learning computation of verification: fused accuracy and contribution scores.

This module is pure learning: models and labelled data in, scores out. What an honest
verifier does around it (refusing files, detecting copies, placing scores back at their
submissions) is ``sim.verification``.

The verifier splits the initiator's verification data, by its own seed, into a fitting
part (trains fusion heads) and a held-out evaluation part (``FusionConfig.holdout_fraction``
of it; scores everything). ``SubsetFusion`` trains the head of any subset of the models at
most once, on features computed once per model (``FeatureCache``), and scores it on the
evaluation part and, when given, on the held-out test set (ground truth for the
simulation's metrics, never seen by agents). ``evaluate_submissions`` is the one entry
point; it returns an ``Evaluation``.

Definitions, all accuracies as fractions in [0, 1]:
- individual accuracy: the model's own output layer on the evaluation part;
- fused accuracy: the head fused from all models;
- v(S): the accuracy of the head fused from the models in S; v(∅) is the accuracy of
  always answering the most frequent label of the fitting part (``empty_value``);
- contributions: see ``sim.learning.contribution`` (individual, leave-one-out, Shapley;
  the last two may be negative).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable, Iterable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from sim.learning import contribution as cm
from sim.learning.config import ContributionConfig, FusionConfig
from sim.learning.device import resolve_device
from sim.learning.features import FeatureCache, LabelledData
from sim.learning.fusion import HeadBatch, train_heads
from sim.learning.models import Net

Coalition = frozenset[int]


@dataclass(frozen=True)
class Scores:
    """Fused accuracy, one contribution and one individual accuracy per model, and v(∅).

    ``standard_errors``: each contribution's Monte Carlo standard error when Shapley values
    were sampled (``contribution.shapley_sampled``), else None (computed exactly).
    """

    fused_accuracy: float
    contributions: tuple[float, ...]
    individual_accuracies: tuple[float, ...]
    empty_value: float
    standard_errors: tuple[float, ...] | None = None


@dataclass(frozen=True)
class Evaluation:
    """A verifier's findings on its evaluation part, and the same on the test set.

    ``error_bound`` is the Shapley sampling ε (Hoeffding, at
    ``ContributionConfig.shapley_confidence``) and ``standard_errors`` each contribution's
    Monte Carlo standard error when Shapley values were sampled, else None.
    ``forward_samples`` (models × verification samples) and ``head_samples`` (Σ fitting
    samples × epochs over trained heads) measure the work done, for the simulator's
    compute-time model.
    """

    scores: Scores
    test: Scores | None
    method: str
    strategy: str
    error_bound: float | None
    heads_trained: int
    forward_samples: int
    head_samples: int

    @property
    def fused_accuracy(self) -> float:
        return self.scores.fused_accuracy

    @property
    def contributions(self) -> tuple[float, ...]:
        return self.scores.contributions

    @property
    def individual_accuracies(self) -> tuple[float, ...]:
        return self.scores.individual_accuracies

    @property
    def standard_errors(self) -> tuple[float, ...] | None:
        return self.scores.standard_errors


def split_rows(n: int, holdout_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(fitting rows, evaluation rows) of ``n`` samples, by the verifier's ``seed``."""
    if n < 2:
        raise ValueError(f"verification: expected at least 2 samples, got {n}")
    order = np.random.default_rng(seed).permutation(n)
    held = min(max(round(holdout_fraction * n), 1), n - 1)
    return np.sort(order[held:]), np.sort(order[:held])


class HeadMemo:
    """Fusion heads trained in this process, by everything their training reads.

    The committee's evaluation and the oracle's of the same submissions with the same seed
    train the same heads (the oracle also scores them on the test set, so the two are
    different evaluation-cache entries): the second reads the first's trained heads instead
    of training them again. Training is deterministic in a process (what the evaluation
    cache relies on too), so a head read here is the head training would give. Bounded in
    parameters held (least recently used dropped first).
    """

    def __init__(self, limit_floats: int = 16 * 2**20):
        self.limit = limit_floats
        self._entries: OrderedDict[Hashable, tuple[list[HeadBatch], int]] = OrderedDict()
        self._floats = 0

    def get(self, key: Hashable) -> list[HeadBatch] | None:
        found = self._entries.get(key)
        if found is None:
            return None
        self._entries.move_to_end(key)
        return found[0]

    def put(self, key: Hashable, batches: list[HeadBatch]) -> None:
        size = sum(p.numel() for b in batches for p in b.parameters())
        if size > self.limit or key in self._entries:
            return
        while self._entries and self._floats + size > self.limit:
            _, (_, dropped) = self._entries.popitem(last=False)
            self._floats -= dropped
        self._entries[key] = (batches, size)
        self._floats += size

    def through(self, key: Hashable, batches: Iterable[HeadBatch]) -> Iterator[HeadBatch]:
        """``batches`` passed on one at a time, kept under ``key`` once all have passed if
        together they fit the bound (more would not be kept anyway: they are let go)."""
        kept: list[HeadBatch] | None = []
        size = 0
        for batch in batches:
            yield batch
            size += sum(p.numel() for p in batch.parameters())
            if kept is not None and size <= self.limit:
                kept.append(batch)
            else:
                kept = None
        if kept is not None:
            self.put(key, kept)


class SubsetFusion:
    """Fused accuracy of any subset of ``models``, each subset's head trained at most once."""

    def __init__(
        self,
        models: Sequence[Net],
        verification: LabelledData,
        fusion: FusionConfig,
        seed: int,
        *,
        test: LabelledData | None = None,
        features: FeatureCache | None = None,
        heads: HeadMemo | None = None,
    ):
        cache = features if features is not None else FeatureCache()
        fingerprints = tuple(m.fingerprint for m in models)
        self._heads = heads if None not in fingerprints else None
        self._heads_key = (fingerprints, verification.key, fusion, seed)
        self.device = resolve_device(fusion.device)
        self.models = list(models)
        self.config = fusion
        self.seed = seed
        fit_rows, eval_rows = (
            torch.from_numpy(r)
            for r in split_rows(len(verification), fusion.holdout_fraction, seed)
        )
        y = verification.y.to(self.device)
        self.y_fit, self.y_eval = y[fit_rows], y[eval_rows]
        full = [cache.features(m, verification, self.device) for m in self.models]
        self.fit_features = [f[fit_rows] for f in full]
        self.eval_features = [f[eval_rows] for f in full]
        self.y_test = test.y.to(self.device) if test is not None else None
        self.test_features = (
            [cache.features(m, test, self.device) for m in self.models]
            if test is not None
            else None
        )
        self.forward_samples = len(self.models) * len(verification)
        self.heads_trained = 0
        self.head_samples = 0
        self._values: dict[Coalition, tuple[float, float | None]] = {}

    def empty(self) -> tuple[float, float | None]:
        """v(∅) on the evaluation part and on the test set: the majority-label rate."""
        majority = int(torch.bincount(self.y_fit).argmax())
        on_eval = float((self.y_eval == majority).float().mean())
        on_test = None
        if self.y_test is not None and len(self.y_test):
            on_test = float((self.y_test == majority).float().mean())
        return on_eval, on_test

    def individual(self) -> list[tuple[float, float | None]]:
        """Each model's own accuracy on the evaluation part and on the test set."""
        out = []
        for i, model in enumerate(self.models):
            output = model.output.to(self.device)
            with torch.inference_mode():
                on_eval = _rate(output(self.eval_features[i]), self.y_eval)
                on_test = None
                if self.test_features is not None and self.y_test is not None:
                    on_test = _rate(output(self.test_features[i]), self.y_test)
            out.append((on_eval, on_test))
        return out

    def value(self, coalition: Coalition) -> tuple[float, float | None]:
        """v(S) on the evaluation part and on the test set (None without a test set)."""
        if coalition not in self._values:
            self.prefetch([coalition])
        return self._values[coalition]

    def prefetch(self, coalitions: Iterable[Coalition]) -> None:
        """Train the heads of all ``coalitions`` not yet known, together (much faster)."""
        todo = sorted(
            {c for c in coalitions if c not in self._values}, key=lambda c: (len(c), sorted(c))
        )
        if todo and not todo[0]:
            self._values[todo.pop(0)] = self.empty()
        if not todo:
            return
        members = [tuple(sorted(c)) for c in todo]
        seeds = [head_seed(self.seed, m) for m in members]
        outputs = [m.output for m in self.models]
        key = (*self._heads_key, tuple(members), torch.get_num_threads())
        memo = self._heads
        batches: Iterable[HeadBatch] | None = memo.get(key) if memo is not None else None
        if batches is None:
            # each batch is scored and let go before the next is trained: memory is one
            # chunk of heads, not the thousands a sampled Shapley group asks for
            batches = train_heads(
                self.fit_features, self.y_fit, outputs, members, seeds, self.config, self.seed
            )
            if memo is not None:
                batches = memo.through(key, batches)
        for batch in batches:
            on_eval = batch.accuracies(self.eval_features, self.y_eval)
            on_test: list[float | None] = [None] * len(batch.members)
            if self.test_features is not None and self.y_test is not None:
                on_test = list(batch.accuracies(self.test_features, self.y_test))
            for group, e, t in zip(batch.members, on_eval, on_test, strict=True):
                self._values[frozenset(group)] = (e, t)
        self.heads_trained += len(members)
        self.head_samples += len(members) * len(self.y_fit) * _head_epochs(self.config)


def head_seed(seed: int, members: tuple[int, ...]) -> int:
    """The start seed of the head fused from ``members`` under the verifier's ``seed``."""
    return int(np.random.SeedSequence([seed, _mask(members)]).generate_state(1)[0])


def _mask(members: tuple[int, ...]) -> int:
    return sum(1 << i for i in members)


def _rate(logits: torch.Tensor, y: torch.Tensor) -> float:
    return float((logits.argmax(dim=1) == y).float().mean()) if len(y) else float("nan")


def _head_epochs(config: FusionConfig) -> int:
    return config.epochs if config.strategy == "I" else config.phase1_epochs + config.phase2_epochs


def evaluate_submissions(
    models: Sequence[Net],
    verification: LabelledData,
    fusion: FusionConfig,
    contribution: ContributionConfig,
    seed: int,
    *,
    test: LabelledData | None = None,
    features: FeatureCache | None = None,
    heads: HeadMemo | None = None,
) -> Evaluation:
    """Fuse ``models``, score the fusion and each model's contribution (in input order).

    Pass one ``FeatureCache`` to every call in a process so that models seen by several
    verifiers run through their networks once, and one ``HeadMemo`` so that an evaluation
    that trains the heads another one trained (the oracle's) reads them.
    """
    subsets = SubsetFusion(
        models, verification, fusion, seed, test=test, features=features, heads=heads
    )
    scores, bound = _scores(subsets, 0, contribution)
    on_test = _scores(subsets, 1, contribution)[0] if test is not None else None
    return Evaluation(
        scores=scores,
        test=on_test,
        method=contribution.method,
        strategy=fusion.strategy,
        error_bound=bound,
        heads_trained=subsets.heads_trained,
        forward_samples=subsets.forward_samples,
        head_samples=subsets.head_samples,
    )


def _scores(
    subsets: SubsetFusion, side: int, config: ContributionConfig
) -> tuple[Scores, float | None]:
    """Scores on the evaluation part (``side`` 0) or the test set (1), and the Shapley ε."""

    def value(coalition: Coalition) -> float:
        return _num(subsets.value(coalition)[side])

    n = len(subsets.models)
    individual = [_num(pair[side]) for pair in subsets.individual()]
    contributions, bound, errors = _contributions(subsets, value, individual, config)
    scores = Scores(
        fused_accuracy=value(frozenset(range(n))),
        contributions=tuple(float(c) for c in contributions),
        individual_accuracies=tuple(individual),
        empty_value=value(frozenset()),
        standard_errors=errors,
    )
    return scores, bound


def _num(value: float | None) -> float:
    return float("nan") if value is None else float(value)


def _contributions(
    subsets: SubsetFusion,
    value: cm.ValueFunction,
    individual: list[float],
    config: ContributionConfig,
) -> tuple[np.ndarray, float | None, tuple[float, ...] | None]:
    """Contributions, the sampling ε (Hoeffding) and per-model standard errors (sampled
    Shapley only; exact methods give None for both)."""
    n = len(subsets.models)
    everyone = frozenset(range(n))
    if n == 0:
        return np.zeros(0), None, None
    if config.method == "individual":
        subsets.prefetch([everyone])
        return np.array(individual), None, None
    if config.method == "leave_one_out":
        subsets.prefetch([everyone, *(everyone - {i} for i in range(n))])
        return cm.leave_one_out(n, value), None, None
    if n <= config.shapley_exact_max:
        masks = range(1 << n)
        subsets.prefetch(frozenset(i for i in range(n) if m >> i & 1) for m in masks)
        return cm.shapley_exact(n, value), None, None
    # Same seed on both sides (evaluation part and test set): the same orders are drawn, so
    # the two sides' estimates differ by their values, not by their samples. The budget
    # ``shapley_permutations`` is the maximum; sampling stops early at the target error.
    rng = np.random.default_rng(np.random.SeedSequence([subsets.seed, 0x5A4B]))
    sampled = cm.shapley_sampled(
        n,
        value,
        config.shapley_permutations,
        rng,
        target_se=config.shapley_target_se,
        prefetch=subsets.prefetch,
    )
    bound = cm.hoeffding_epsilon(n, sampled.groups, config.shapley_confidence)
    return sampled.values, bound, tuple(float(e) for e in sampled.standard_errors)
