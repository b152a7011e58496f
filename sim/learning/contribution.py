"""Contribution scores of n players under a value function v(S) on subsets (pure numpy).

In a verifier, the players are the submitted models and v(S) is the accuracy, on the
verifier's evaluation data, of the head fused from the models in S (``verification``
defines it). v(∅), the value with no model at all, is the accuracy of always answering the
most frequent label of the head's fitting data, the best a verifier can do without models.

- ``leave_one_out``: φ_i = v(N) − v(N ∖ {i}).
- ``shapley_exact``: φ_i = Σ_{S ⊆ N∖{i}} |S|! (n − |S| − 1)! / n! · (v(S ∪ {i}) − v(S)),
  over all 2^n subsets (used for n <= ``ContributionConfig.shapley_exact_max``).
- ``shapley_sampled``: the mean marginal contribution of each player over sampled orders,
  drawn in independent *groups*: a random order, its n rotations and the n rotations of its
  reverse (2n orders). Rotations put every player at every position exactly once per group,
  so the dominant source of noise — whether a model came first and took the whole jump from
  v(∅) — is stratified away; the reversed orders are antithetic (each player's predecessors
  become the complement). Groups are i.i.d., so each player's standard error is the sample
  standard deviation of its group means over √groups. Groups are added until every player's
  standard error is at most ``target_se`` or ``max_permutations`` orders are spent (at least
  two groups, so that an error exists).
- ``hoeffding_epsilon``: each group mean lies in [−1, 1] (marginals are differences of
  accuracies), so by Hoeffding and a union bound over n players,
  P(max_i |φ̂_i − φ_i| ≥ ε) <= 2n·exp(−g ε² / 2) over g groups: a distribution-free bound,
  far wider than the standard errors (it holds for a fixed g; the early stop makes it
  approximate).
Both Shapley forms are efficient (Σ φ_i = v(N) − v(∅)); the exact one is symmetric and
gives null players 0. The caller caches v (``verification.SubsetFusion`` trains each
coalition's head once); ``prefixes`` says which coalitions a set of orders will ask for.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np

Coalition = frozenset[int]
ValueFunction = Callable[[Coalition], float]
Prefetch = Callable[[Iterable[Coalition]], None]

TARGET_STANDARD_ERROR = 0.001
"""Default stop for sampled Shapley: every player's standard error at most 0.1 accuracy
points (a tenth of the typical spread between IID contributors' values)."""


def leave_one_out(n: int, value: ValueFunction) -> np.ndarray:
    everyone = frozenset(range(n))
    total = value(everyone)
    return np.array([total - value(everyone - {i}) for i in range(n)])


def shapley_exact(n: int, value: ValueFunction) -> np.ndarray:
    """Exact Shapley values, from v on all 2^n coalitions."""
    values = np.empty(1 << n)
    for mask in range(1 << n):
        values[mask] = value(frozenset(i for i in range(n) if mask >> i & 1))
    sizes = np.array([bin(mask).count("1") for mask in range(1 << n)])
    weights = np.array(
        [math.factorial(s) * math.factorial(n - s - 1) / math.factorial(n) for s in range(n)]
    )
    phi = np.zeros(n)
    masks = np.arange(1 << n)
    for i in range(n):
        without = masks[(masks >> i & 1) == 0]
        phi[i] = np.sum(weights[sizes[without]] * (values[without | (1 << i)] - values[without]))
    return phi


@dataclass(frozen=True)
class Sampled:
    """Sampled Shapley values, each player's standard error, and the work done."""

    values: np.ndarray
    standard_errors: np.ndarray
    permutations: int
    groups: int


def group_orders(n: int, rng: np.random.Generator) -> np.ndarray:
    """One group: a random order's n rotations, then its reverse's n rotations (2n rows)."""
    base = rng.permutation(n)
    rows = [np.roll(o, -k) for o in (base, base[::-1]) for k in range(n)]
    return np.array(rows, dtype=np.int64)


def prefixes(orders: np.ndarray) -> set[Coalition]:
    """Every coalition that ``marginals`` will ask the value of."""
    out: set[Coalition] = {frozenset()}
    for order in orders:
        out.update(frozenset(int(p) for p in order[: k + 1]) for k in range(len(order)))
    return out


def marginals(orders: np.ndarray, value: ValueFunction) -> np.ndarray:
    """Each player's marginal contribution in each order (rows: orders, columns: players)."""
    out = np.zeros(orders.shape, dtype=float)
    for row, order in enumerate(orders):
        coalition: Coalition = frozenset()
        before = value(coalition)
        for player in order:
            coalition = coalition | {int(player)}
            after = value(coalition)
            out[row, int(player)] = after - before
            before = after
    return out


def shapley_from_orders(orders: np.ndarray, value: ValueFunction) -> np.ndarray:
    """Mean marginal contribution of each player over the given orders."""
    return np.asarray(marginals(orders, value).mean(axis=0))


def shapley_sampled(
    n: int,
    value: ValueFunction,
    max_permutations: int,
    rng: np.random.Generator,
    target_se: float = TARGET_STANDARD_ERROR,
    prefetch: Prefetch | None = None,
    batch: int = 2,
) -> Sampled:
    """Stratified, antithetic permutation sampling with a stop on the standard error.

    ``prefetch`` (if given) is told each batch's coalitions before they are valued, so an
    expensive v can compute them together; ``batch`` groups are drawn at a time.
    """
    size = 2 * n
    most = max(2, max_permutations // size)
    means: list[np.ndarray] = []
    while len(means) < most:
        take = min(batch if len(means) >= 2 else 2, most - len(means))
        orders = [group_orders(n, rng) for _ in range(take)]
        if prefetch is not None:
            prefetch(prefixes(np.concatenate(orders)))
        means += [marginals(o, value).mean(axis=0) for o in orders]
        if float(_standard_errors(means).max()) <= target_se:
            break
    return Sampled(
        values=np.mean(means, axis=0),
        standard_errors=_standard_errors(means),
        permutations=len(means) * size,
        groups=len(means),
    )


def _standard_errors(group_means: list[np.ndarray]) -> np.ndarray:
    stacked = np.asarray(group_means)
    return np.asarray(stacked.std(axis=0, ddof=1) / math.sqrt(len(stacked)))


def hoeffding_epsilon(n: int, samples: int, confidence: float) -> float:
    """ε such that all n estimates, each a mean of ``samples`` independent terms in [−1, 1],
    are within ε with probability ``confidence`` (at most 2: no error can be larger)."""
    delta = 1.0 - confidence
    return min(2.0, math.sqrt(2.0 * math.log(2.0 * n / delta) / samples))
