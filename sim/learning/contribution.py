"""Contribution scores of n players under a value function v(S) on subsets (pure numpy).

In a verifier, the players are the submitted models and v(S) is the accuracy, on the
verifier's evaluation data, of the head fused from the models in S (``verification``
defines it). v(∅), the value with no model at all, is the accuracy of always answering the
most frequent label of the head's fitting data, the best a verifier can do without models.

- ``leave_one_out``: φ_i = v(N) − v(N ∖ {i}).
- ``shapley_exact``: φ_i = Σ_{S ⊆ N∖{i}} |S|! (n − |S| − 1)! / n! · (v(S ∪ {i}) − v(S)),
  over all 2^n subsets (used for n <= ``ContributionConfig.shapley_exact_max``).
- ``shapley_permutation``: the mean marginal contribution of each player over m random
  orders. Each marginal contribution lies in [−1, 1] (a difference of accuracies), so by
  Hoeffding's inequality and a union bound over the n players,
  P(max_i |φ̂_i − φ_i| ≥ ε) <= 2n·exp(−m ε² / 2), i.e. with probability ``confidence``
  every estimate is within ε = sqrt(2 ln(2n / (1 − confidence)) / m) (``hoeffding_epsilon``).
Both Shapley forms are efficient (Σ φ_i = v(N) − v(∅)); the exact one is symmetric and
gives null players 0.

Value functions are memoised by ``Memo``, so v is called at most once per subset.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

Coalition = frozenset[int]
ValueFunction = Callable[[Coalition], float]


class Memo:
    """``value`` called at most once per coalition; ``calls`` counts the distinct ones."""

    def __init__(self, value: ValueFunction):
        self._value = value
        self._seen: dict[Coalition, float] = {}

    def __call__(self, coalition: Coalition) -> float:
        found = self._seen.get(coalition)
        if found is None:
            found = self._seen[coalition] = float(self._value(coalition))
        return found

    @property
    def calls(self) -> int:
        return len(self._seen)


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


def sample_orders(n: int, permutations: int, rng: np.random.Generator) -> np.ndarray:
    """``permutations`` random orders of n players, one per row."""
    return np.array([rng.permutation(n) for _ in range(permutations)], dtype=np.int64)


def prefixes(orders: np.ndarray) -> set[Coalition]:
    """Every coalition that ``shapley_from_orders`` will ask the value of."""
    out: set[Coalition] = {frozenset()}
    for order in orders:
        out.update(frozenset(int(p) for p in order[: k + 1]) for k in range(len(order)))
    return out


def shapley_from_orders(orders: np.ndarray, value: ValueFunction) -> np.ndarray:
    """Mean marginal contribution of each player over the given orders."""
    n = orders.shape[1]
    phi = np.zeros(n)
    for order in orders:
        coalition: Coalition = frozenset()
        before = value(coalition)
        for player in order:
            coalition = coalition | {int(player)}
            after = value(coalition)
            phi[player] += after - before
            before = after
    return phi / len(orders)


def shapley_permutation(
    n: int, value: ValueFunction, permutations: int, rng: np.random.Generator
) -> np.ndarray:
    """Mean marginal contributions over ``permutations`` random orders (Monte Carlo)."""
    return shapley_from_orders(sample_orders(n, permutations, rng), value)


def hoeffding_epsilon(n: int, permutations: int, confidence: float) -> float:
    """ε such that all n permutation estimates are within ε with probability ``confidence``."""
    delta = 1.0 - confidence
    return math.sqrt(2.0 * math.log(2.0 * n / delta) / permutations)
