"""Contribution scores on toy games whose Shapley values are known."""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable

import numpy as np
import pytest

from sim.learning.contribution import (
    Coalition,
    group_orders,
    hoeffding_epsilon,
    leave_one_out,
    prefixes,
    shapley_exact,
    shapley_from_orders,
    shapley_sampled,
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


def test_sampled_estimate_is_efficient_and_within_its_bound() -> None:
    rng = np.random.default_rng(0)
    exact = shapley_exact(5, weighted)
    sampled = shapley_sampled(5, weighted, 400, rng, target_se=0.0)
    estimate = sampled.values
    assert estimate.sum() == pytest.approx(weighted(frozenset(range(5))) - weighted(frozenset()))
    assert sampled.groups == 40 and sampled.permutations == 400
    assert np.max(np.abs(estimate - exact)) < hoeffding_epsilon(5, sampled.groups, 0.95)


def noisy(n: int) -> Callable[[Coalition], float]:
    """A model-fusion-like game: v(∅) far below any single model, small synergies, and a
    deterministic per-coalition jitter (head training noise)."""
    weights = np.random.default_rng(5).uniform(0.0, 0.01, n)

    def value(c: Coalition) -> float:
        if not c:
            return 0.1
        jitter = np.random.default_rng(sum(1 << i for i in c)).uniform(-0.0025, 0.0025)
        synergy = 0.02 if {3, 4} <= c else 0.0
        return float(
            0.85
            + 0.05 * (1 - math.exp(-0.3 * (len(c) - 1)))
            + weights[list(c)].sum() * 0.2
            + synergy
            + jitter
        )

    return value


def test_stratified_antithetic_sampling_beats_plain_orders_and_knows_its_error() -> None:
    n = 9
    value = noisy(n)
    exact = shapley_exact(n, value)
    plain, new, covered = [], [], 0.0
    for seed in range(12):
        rng = np.random.default_rng(seed)
        orders = np.array([rng.permutation(n) for _ in range(180)])
        plain.append(np.sqrt(np.mean((shapley_from_orders(orders, value) - exact) ** 2)))
        s = shapley_sampled(n, value, 180, np.random.default_rng(seed), target_se=0.0)
        new.append(np.sqrt(np.mean((s.values - exact) ** 2)))
        covered += float(np.mean(np.abs(s.values - exact) <= 3 * s.standard_errors))
    assert np.mean(new) < np.mean(plain) / 10  # the position noise is stratified away
    assert covered / 12 > 0.85  # the standard errors are honest


def test_sampling_stops_at_the_target_error_within_the_budget() -> None:
    value = noisy(9)
    loose = shapley_sampled(9, value, 1800, np.random.default_rng(1), target_se=0.01)
    tight = shapley_sampled(9, value, 1800, np.random.default_rng(1), target_se=0.0)
    assert loose.groups == 2 and loose.standard_errors.max() <= 0.01
    assert tight.groups == 100 and tight.permutations == 1800
    # below two groups' worth of orders there would be no error: two groups are drawn
    assert shapley_sampled(9, value, 5, np.random.default_rng(1)).groups == 2


def test_a_group_puts_every_player_at_every_position_twice() -> None:
    orders = group_orders(6, np.random.default_rng(3))
    assert orders.shape == (12, 6)
    for position in range(6):
        assert sorted(orders[:, position]) == sorted([*range(6)] * 2)
    assert (orders[6] == orders[0][::-1]).all()  # the antithetic half: the reversed order


def test_hoeffding_bound_formula() -> None:
    eps = hoeffding_epsilon(10, 200, 0.95)
    assert eps == pytest.approx(math.sqrt(2 * math.log(2 * 10 / 0.05) / 200))
    assert 2 * 10 * math.exp(-200 * eps**2 / 2) == pytest.approx(0.05)
    assert hoeffding_epsilon(10, 800, 0.95) == pytest.approx(eps / 2)


def test_prefixes_are_exactly_the_coalitions_asked_for() -> None:
    orders = group_orders(6, np.random.default_rng(1))
    asked: set[Coalition] = set()

    def spy(c: Coalition) -> float:
        asked.add(c)
        return weighted(frozenset(i for i in c if i < 5))

    shapley_from_orders(orders, spy)
    assert asked == prefixes(orders)


def test_leave_one_out() -> None:
    assert leave_one_out(4, glove_game) == pytest.approx([0.0, 0.0, 1.0, 0.0])
