"""What a verifier computes: fused accuracy and contribution scores of submitted models.

The verifier splits the initiator's verification data, by its own seed, into a fitting
part (trains fusion heads) and a held-out evaluation part (``FusionConfig.holdout_fraction``
of it; scores everything). ``SubsetFusion`` trains the head of any subset of the models at
most once, on features computed once per model (``FeatureCache``), and scores it on the
evaluation part and, when given, on the held-out test set (ground truth for the
simulation's metrics, never seen by agents). ``evaluate_submissions`` is the one call a
verifier makes; it returns an ``Evaluation``.

Definitions, all accuracies as fractions in [0, 1]:
- individual accuracy: the model's own output layer on the evaluation part;
- fused accuracy: the head fused from all models;
- v(S): the accuracy of the head fused from the models in S; v(∅) is the accuracy of
  always answering the most frequent label of the fitting part (``empty_value``);
- contributions: see ``sim.learning.contribution`` (individual, leave-one-out, Shapley;
  the last two may be negative).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from sim.learning import contribution as cm
from sim.learning.config import ContributionConfig, FusionConfig
from sim.learning.device import resolve_device
from sim.learning.features import FeatureCache, LabelledData
from sim.learning.fusion import fit_head, head_accuracy
from sim.learning.models import Net

Coalition = frozenset[int]


@dataclass(frozen=True)
class Scores:
    """Fused accuracy, one contribution and one individual accuracy per model, and v(∅)."""

    fused_accuracy: float
    contributions: tuple[float, ...]
    individual_accuracies: tuple[float, ...]
    empty_value: float


@dataclass(frozen=True)
class Evaluation:
    """A verifier's findings on its evaluation part, and the same on the test set.

    ``error_bound`` is the Shapley sampling ε (at ``ContributionConfig.shapley_confidence``)
    when Shapley values were sampled, else None. ``forward_samples`` (models × verification
    samples) and ``head_samples`` (Σ fitting samples × epochs over trained heads) measure the
    work done, for the simulator's compute-time model.
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


def split_rows(n: int, holdout_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(fitting rows, evaluation rows) of ``n`` samples, by the verifier's ``seed``."""
    if n < 2:
        raise ValueError(f"verification: expected at least 2 samples, got {n}")
    order = np.random.default_rng(seed).permutation(n)
    held = min(max(round(holdout_fraction * n), 1), n - 1)
    return np.sort(order[held:]), np.sort(order[:held])


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
    ):
        cache = features if features is not None else FeatureCache()
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
            [cache.features(m, test, self.device) for m in self.models] if test else None
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
        found = self._values.get(coalition)
        if found is None:
            found = self._values[coalition] = self._fuse(sorted(coalition))
        return found

    def _fuse(self, members: list[int]) -> tuple[float, float | None]:
        if not members:
            return self.empty()
        mask = sum(1 << i for i in members)
        head_seed = int(np.random.SeedSequence([self.seed, mask]).generate_state(1)[0])
        head = fit_head(
            [self.fit_features[i] for i in members],
            self.y_fit,
            [self.models[i].output for i in members],
            self.config,
            head_seed,
        )
        self.heads_trained += 1
        self.head_samples += len(self.y_fit) * _head_epochs(self.config)
        on_eval = head_accuracy(head, _joined(self.eval_features, members), self.y_eval)
        on_test = None
        if self.test_features is not None and self.y_test is not None:
            on_test = head_accuracy(head, _joined(self.test_features, members), self.y_test)
        return on_eval, on_test


def _joined(blocks: list[torch.Tensor], members: list[int]) -> torch.Tensor:
    return torch.cat([blocks[i] for i in members], dim=1)


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
) -> Evaluation:
    """Fuse ``models``, score the fusion and each model's contribution (in input order).

    Pass one ``FeatureCache`` to every call in a process so that models seen by several
    verifiers run through their networks once.
    """
    subsets = SubsetFusion(models, verification, fusion, seed, test=test, features=features)
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
    contributions, bound = _contributions(n, value, individual, config, subsets.seed)
    scores = Scores(
        fused_accuracy=value(frozenset(range(n))),
        contributions=tuple(float(c) for c in contributions),
        individual_accuracies=tuple(individual),
        empty_value=value(frozenset()),
    )
    return scores, bound


def _num(value: float | None) -> float:
    return float("nan") if value is None else float(value)


def _contributions(
    n: int,
    value: cm.ValueFunction,
    individual: list[float],
    config: ContributionConfig,
    seed: int,
) -> tuple[np.ndarray, float | None]:
    if n == 0:
        return np.zeros(0), None
    if config.method == "individual":
        return np.array(individual), None
    if config.method == "leave_one_out":
        return cm.leave_one_out(n, value), None
    if n <= config.shapley_exact_max:
        return cm.shapley_exact(n, value), None
    rng = np.random.default_rng(np.random.SeedSequence([seed, 0x5A4B]))
    phi = cm.shapley_permutation(n, value, config.shapley_permutations, rng)
    return phi, cm.hoeffding_epsilon(n, config.shapley_permutations, config.shapley_confidence)
