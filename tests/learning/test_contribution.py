"""Contribution scores on toy games whose Shapley values are known."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from sim.learning.contribution import (
    Coalition,
    Memo,
    hoeffding_epsilon,
    leave_one_out,
    prefixes,
    sample_orders,
    shapley_exact,
    shapley_from_orders,
    shapley_permutation,
)


def glove_game(coalition: Coalition) -> float:
    """Players 0, 1 hold left gloves, 2 a right glove; a pair is worth 1. Player 3 is null."""
    return float(min(len(coalition & {0, 1}), len(coalition & {2})))


def weighted(coalition: Coalition) -> float:
    """An additive game plus a synergy between players 0 and 1."""
    weights = [0.3, 0.1, 0.2, 0.05, 0.15]
    return 0.1 + sum(weights[i] for i in coalition) + (0.2 if {0, 1} <= coalition else 0.0)


def test_glove_game_values() -> None:
    phi = shapley_exact(4, glove_game)
    assert phi == pytest.approx([1 / 6, 1 / 6, 2 / 3, 0.0])


@pytest.mark.parametrize("n", [1, 2, 5])
def test_efficiency_sum_is_grand_value_minus_empty(n: int) -> None:
    def game(c: Coalition) -> float:
        return weighted(frozenset(i for i in c if i < 5))

    phi = shapley_exact(n, game)
    assert phi.sum() == pytest.approx(game(frozenset(range(n))) - game(frozenset()))


def test_symmetric_players_get_equal_values_and_additive_parts_are_exact() -> None:
    phi = shapley_exact(5, weighted)
    assert phi[0] == pytest.approx(0.3 + 0.1) and phi[1] == pytest.approx(0.1 + 0.1)
    assert phi[2:] == pytest.approx([0.2, 0.05, 0.15])
    symmetric = shapley_exact(4, lambda c: float(len(c) ** 2))
    assert np.allclose(symmetric, symmetric[0])
    assert symmetric.sum() == pytest.approx(16.0)


def test_exact_matches_the_definition_by_orders() -> None:
    all_orders = np.array(list(itertools.permutations(range(4))))
    assert shapley_from_orders(all_orders, glove_game) == pytest.approx(
        shapley_exact(4, glove_game)
    )


def test_permutation_estimate_is_efficient_and_within_its_bound() -> None:
    rng = np.random.default_rng(0)
    exact = shapley_exact(5, weighted)
    estimate = shapley_permutation(5, weighted, 400, rng)
    assert estimate.sum() == pytest.approx(weighted(frozenset(range(5))) - weighted(frozenset()))
    assert np.max(np.abs(estimate - exact)) < hoeffding_epsilon(5, 400, 0.95)


def test_hoeffding_bound_formula() -> None:
    eps = hoeffding_epsilon(10, 200, 0.95)
    assert eps == pytest.approx(math.sqrt(2 * math.log(2 * 10 / 0.05) / 200))
    assert 2 * 10 * math.exp(-200 * eps**2 / 2) == pytest.approx(0.05)
    assert hoeffding_epsilon(10, 800, 0.95) == pytest.approx(eps / 2)


def test_prefixes_are_exactly_the_coalitions_asked_for() -> None:
    orders = sample_orders(6, 7, np.random.default_rng(1))
    asked: set[Coalition] = set()

    def spy(c: Coalition) -> float:
        asked.add(c)
        return weighted(frozenset(i for i in c if i < 5))

    shapley_from_orders(orders, spy)
    assert asked == prefixes(orders)


def test_leave_one_out() -> None:
    assert leave_one_out(4, glove_game) == pytest.approx([0.0, 0.0, 1.0, 0.0])


def test_memo_calls_the_value_once_per_coalition() -> None:
    calls: list[Coalition] = []

    def counted(c: Coalition) -> float:
        calls.append(c)
        return glove_game(c)

    memo = Memo(counted)
    shapley_exact(4, memo)
    leave_one_out(4, memo)
    assert memo.calls == 16 and len(calls) == 16
