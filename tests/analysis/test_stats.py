"""Per-point statistics: mean, sd, 95 % CIs by t and bootstrap, n, and the small-n note."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from analysis.stats import mean_ci, point_counts, point_stats


def test_the_t_interval_matches_the_textbook_values() -> None:
    n, mean, std, low, high = mean_ci([1.0, 2.0, 3.0, 4.0])
    assert (n, mean) == (4, 2.5)
    assert std == pytest.approx(1.2909944)
    # t(0.975, 3) = 3.182446; half-width = t * s / sqrt(n)
    assert (low, high) == pytest.approx((2.5 - 2.0542603, 2.5 + 2.0542603))


def test_the_t_interval_covers_the_mean_about_95_percent_of_the_time() -> None:
    rng = np.random.default_rng(7)
    hits = 0
    for _ in range(2000):
        _, _, _, low, high = mean_ci(rng.normal(10.0, 3.0, size=5))
        hits += low <= 10.0 <= high
    assert 0.93 < hits / 2000 < 0.97


def test_the_bootstrap_interval_is_seeded_and_brackets_the_mean() -> None:
    x = np.random.default_rng(1).exponential(2.0, size=40)
    a = mean_ci(x, method="bootstrap", seed=3)
    assert a == mean_ci(x, method="bootstrap", seed=3)
    n, mean, _, low, high = a
    assert n == 40
    assert low < mean < high
    _, _, _, t_low, t_high = mean_ci(x)
    assert low == pytest.approx(t_low, rel=0.15)
    assert high == pytest.approx(t_high, rel=0.15)


def test_nan_values_do_not_count_and_tiny_samples_have_no_interval() -> None:
    assert mean_ci([math.nan, 2.0, 4.0])[:2] == (2, 3.0)
    n, mean, std, low, high = mean_ci([5.0, math.nan])
    assert (n, mean) == (1, 5.0)
    assert all(math.isnan(v) for v in (std, low, high))
    assert mean_ci([])[0] == 0


def runs() -> pd.DataFrame:
    rows = []
    for point, stake in enumerate([0.0, 1.0]):
        for seed in range(4):
            status = "failed" if (point, seed) == (1, 3) else "completed"
            acc = math.nan if status == "failed" else 0.5 + point * 0.2 + seed * 0.01
            rows.append(
                {"point": point, "run_id": f"r{point}{seed}", "seed": seed, "stake": stake}
                | {"status": status, "error": None, "acc": acc, "gas": 100.0 * (seed + 1)}
            )
    rows.append(
        {"point": 1, "run_id": "r1p", "seed": 4, "stake": 1.0, "status": "pending"}
        | {"error": None, "acc": math.nan, "gas": math.nan}
    )
    return pd.DataFrame(rows)


def test_point_stats_are_tidy_rows_per_point_and_metric() -> None:
    stats = point_stats(runs(), ["stake"])
    assert list(stats.columns) == [
        "point",
        "stake",
        "metric",
        "n",
        "mean",
        "std",
        "ci_low",
        "ci_high",
        "note",
    ]
    acc = stats[stats["metric"] == "acc"].set_index("point")
    assert list(acc["n"]) == [4, 3]  # the failed and the pending run take no part
    assert acc.loc[0, "mean"] == pytest.approx(0.515)
    assert acc.loc[1, "mean"] == pytest.approx(0.71)
    assert acc.loc[1, "stake"] == 1.0
    assert (acc["ci_low"] < acc["mean"]).all()
    assert list(acc["note"]) == ["n = 4 < 20", "n = 3 < 20"]
    assert set(stats["metric"]) == {"acc", "gas"}


def test_twenty_runs_need_no_note() -> None:
    table = pd.DataFrame(
        {"point": 0, "run_id": [f"r{i}" for i in range(20)], "seed": range(20)}
        | {"status": "completed", "error": None, "acc": np.linspace(0, 1, 20)}
    )
    assert list(point_stats(table, [])["note"]) == [""]


def test_point_counts_say_what_finished_failed_and_waits() -> None:
    counts = point_counts(runs(), ["stake"])
    assert counts.to_dict("records") == [
        {"point": 0, "stake": 0.0, "runs": 4, "finished": 4, "failed": 0, "pending": 0},
        {"point": 1, "stake": 1.0, "runs": 5, "finished": 3, "failed": 1, "pending": 1},
    ]
