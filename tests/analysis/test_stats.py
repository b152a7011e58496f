"""Per-point statistics: mean, sd, 95 % CIs by t and bootstrap, n, and the small-n note."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from analysis.stats import (
    mean_ci,
    neighbours,
    paired_contrasts,
    paired_difference,
    point_counts,
    point_stats,
)


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
        "method",
        "timed_out",
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
        {"point": 0, "stake": 0.0, "runs": 4, "finished": 4}
        | {"timed_out": 0, "failed": 0, "pending": 0},
        {"point": 1, "stake": 1.0, "runs": 5, "finished": 3}
        | {"timed_out": 0, "failed": 1, "pending": 1},
    ]


def test_intervals_are_clipped_to_the_metric_range() -> None:
    # the case: n = 2 on a [0, 1] metric gave a band far outside the range under t
    n, mean, _, low, high = mean_ci([0.1, 0.9], method="t", bounds=(0.0, 1.0))
    assert (n, mean) == (2, 0.5)
    assert (low, high) == (0.0, 1.0)
    stats = point_stats(
        pd.DataFrame(
            {"point": 0, "run_id": ["a", "b"], "seed": [0, 1], "status": "completed"}
            | {"error": None, "payment_fairness": [0.1, 0.9]}
        ),
        [],
        method="t",
    )
    row = stats.iloc[0]
    assert 0.0 <= row["ci_low"] <= row["ci_high"] <= 1.0


def test_bounded_metrics_at_small_n_get_the_seeded_bootstrap() -> None:
    values = [0.7, 0.8, 0.85, 0.9]
    table = pd.DataFrame(
        {"point": 0, "run_id": list("abcd"), "seed": range(4), "status": "completed"}
        | {"error": None, "task_success_rate": values, "gas_per_task": [1.0, 2.0, 3.0, 5.0]}
    )
    stats = point_stats(table, []).set_index("metric")
    assert stats.loc["task_success_rate", "method"] == "bootstrap"
    assert stats.loc["gas_per_task", "method"] == "t"
    boot = mean_ci(values, method="bootstrap", bounds=(0.0, 1.0))
    assert stats.loc["task_success_rate", "ci_low"] == boot[3]
    assert 0.7 <= boot[3] < boot[4] <= 0.9  # within the data: no mass outside [0, 1]


def test_zero_spread_is_not_shown_as_certainty() -> None:
    n, mean, std, low, high = mean_ci([0.5, 0.5, 0.5])
    assert (n, mean, std) == (3, 0.5, 0.0)
    assert math.isnan(low) and math.isnan(high)
    # differences of equal floats can leave 1e-17 of spread: still no interval
    rounding = [0.3 - 0.2, 0.1, 0.7 - 0.6]
    assert np.std(rounding) > 0
    assert math.isnan(mean_ci(rounding)[3])
    table = pd.DataFrame(
        {"point": 0, "run_id": list("abc"), "seed": range(3), "status": "completed"}
        | {"error": None, "acc": 0.5}
    )
    assert point_stats(table, [])["note"].tolist() == ["n = 3 < 20; all 3 equal: no interval"]


def test_timed_out_runs_are_counted_where_they_are_pooled() -> None:
    table = pd.DataFrame(
        {"point": 0, "run_id": list("abc"), "seed": range(3)}
        | {"status": ["completed", "timed_out", "completed"], "error": None}
        | {"acc": [0.5, 0.6, 0.7]}
    )
    row = point_stats(table, []).iloc[0]
    assert (row["n"], row["timed_out"]) == (3, 1)
    assert "1 timed out (pooled)" in row["note"]
    assert point_counts(table, []).iloc[0]["timed_out"] == 1


def seeded_runs() -> pd.DataFrame:
    """Two axes; each seed shifts every point by the same large amount (shared models)."""
    rows = []
    point = 0
    for stake in (0.0, 1.0, 2.0):
        for lazy in (0.0, 0.5):
            for seed in range(5):
                profit = 10.0 * seed + stake - lazy + 0.01 * ((seed * 7 + point) % 3)
                rows.append(
                    {"point": point, "run_id": f"r{point}-{seed}", "seed": seed}
                    | {"stake": stake, "lazy": lazy, "status": "completed", "error": None}
                    | {"profit": profit}
                )
            point += 1
    return pd.DataFrame(rows)


def test_neighbours_step_along_each_axis_with_the_others_fixed() -> None:
    points = seeded_runs().drop_duplicates("point")[["point", "stake", "lazy"]]
    steps = neighbours(points, [["stake"], ["lazy"]])
    assert ("stake", 0, 2) in steps and ("stake", 2, 4) in steps and ("stake", 1, 3) in steps
    assert ("lazy", 0, 1) in steps and ("lazy", 4, 5) in steps
    assert len(steps) == 4 + 3


def test_pairing_by_seed_removes_the_shared_noise() -> None:
    runs = seeded_runs()
    paired = paired_difference(runs, "profit", 0, 2)
    assert paired["n"] == 5
    assert paired["mean"] == pytest.approx(1.0, abs=0.02)
    assert paired["ci_high"] - paired["ci_low"] < 0.1
    # unpaired, the seeds' spread (std ~16) swamps the difference of 1
    a = mean_ci(runs[runs["point"] == 0]["profit"].to_numpy())
    assert a[4] - a[3] > 10


def test_paired_contrasts_list_neighbours_and_the_baseline() -> None:
    runs = seeded_runs()
    table = paired_contrasts(runs, ["stake", "lazy"], ["profit"])
    assert set(table["contrast"]) == {"neighbour", "baseline"}
    base = table[table["contrast"] == "baseline"]
    assert list(base["to_point"]) == [1, 2, 3, 4, 5] and set(base["from_point"]) == {0}
    to4 = base.set_index("to_point").loc[4]
    assert to4["mean"] == pytest.approx(2.0, abs=0.02)
    # a run without a partner seed is counted, not silently dropped
    runs.loc[(runs["point"] == 2) & (runs["seed"] == 4), "status"] = "failed"
    gap = paired_difference(runs, "profit", 0, 2)
    assert gap["n"] == 4 and "1 run(s) without a partner seed" in str(gap["note"])


def test_bounded_differences_are_clipped_to_their_range() -> None:
    runs = pd.DataFrame(
        {"point": [0, 0, 1, 1], "run_id": list("abcd"), "seed": [0, 1, 0, 1]}
        | {"status": "completed", "error": None, "task_success_rate": [0.0, 1.0, 1.0, 0.0]}
    )
    d = paired_difference(runs, "task_success_rate", 0, 1, method="t")
    assert float(d["ci_low"]) >= -1.0 and float(d["ci_high"]) <= 1.0  # type: ignore[arg-type]
