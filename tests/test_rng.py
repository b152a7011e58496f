"""Named random streams: deterministic, independent, order-free."""

from __future__ import annotations

import numpy as np
import pytest

from sim.rng import RngStreams


def test_same_seed_and_path_give_the_same_stream() -> None:
    a = RngStreams(7).numpy("agent", 3).integers(0, 1 << 30, size=8)
    b = RngStreams(7).numpy("agent", 3).integers(0, 1 << 30, size=8)
    np.testing.assert_array_equal(a, b)


def test_streams_differ_by_path_and_seed() -> None:
    s = RngStreams(7)
    draws = {
        tuple(s.numpy(*p).integers(0, 1 << 30, size=4))
        for p in [("agent", 3), ("agent", 4), ("network",)]
    }
    draws.add(tuple(RngStreams(8).numpy("agent", 3).integers(0, 1 << 30, size=4)))
    assert len(draws) == 4


def test_creating_other_streams_first_does_not_shift_a_stream() -> None:
    s = RngStreams(1)
    s.numpy("x").random(100)
    late = s.numpy("y").random(3)
    np.testing.assert_array_equal(late, RngStreams(1).numpy("y").random(3))


def test_integer_seed_is_stable_and_in_range() -> None:
    v = RngStreams(5).integer_seed("torch", 1)
    assert v == RngStreams(5).integer_seed("torch", 1)
    assert 0 <= v < 2**63


@pytest.mark.parametrize("bad", [-1, 1.5, True, "3"])
def test_bad_seeds_are_refused(bad: object) -> None:
    with pytest.raises(ValueError, match="seed"):
        RngStreams(bad)  # type: ignore[arg-type]
