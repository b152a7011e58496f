"""Statistics per grid point: mean, standard deviation and a 95 % confidence interval.

``point_stats(runs, parameters)`` turns a runs table (``analysis.runs.runs_table``) into a
tidy table with one row per (point, metric): the point's parameter values, ``n`` (finished
runs with a value for the metric), ``mean``, ``std`` (sample, ddof 1), ``ci_low`` and
``ci_high``, and a ``note`` when n < 20. The interval is Student's t on the mean by default,
or a percentile bootstrap of the mean (``method="bootstrap"``, with an explicit seed). Runs
that failed or have not run yet take no part; ``point_counts`` says how many there are.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

import numpy as np
import pandas as pd

from analysis.runs import FINISHED, metric_columns

SMALL_N = 20
"""Below this many runs per point an interval is flagged: it rests on few samples."""
Method = Literal["t", "bootstrap"]
STAT_COLUMNS = ("n", "mean", "std", "ci_low", "ci_high", "note")


def mean_ci(
    values: Sequence[float] | np.ndarray,
    level: float = 0.95,
    method: Method = "t",
    seed: int = 0,
    resamples: int = 2000,
) -> tuple[int, float, float, float, float]:
    """(n, mean, std, ci_low, ci_high) of the finite ``values``; NaN where undefined."""
    x = np.asarray(values, dtype=float)
    x = x[np.isfinite(x)]
    n = len(x)
    if n == 0:
        return 0, math.nan, math.nan, math.nan, math.nan
    mean = float(x.mean())
    if n == 1:
        return 1, mean, math.nan, math.nan, math.nan
    std = float(x.std(ddof=1))
    if method == "bootstrap":
        rng = np.random.default_rng(seed)
        means = x[rng.integers(0, n, size=(resamples, n))].mean(axis=1)
        tail = (1 - level) / 2 * 100
        low, high = np.percentile(means, [tail, 100 - tail])
        return n, mean, std, float(low), float(high)
    from scipy import stats

    half = float(stats.t.ppf(0.5 + level / 2, n - 1)) * std / math.sqrt(n)
    return n, mean, std, mean - half, mean + half


def point_stats(
    runs: pd.DataFrame,
    parameters: Sequence[str],
    metrics: Sequence[str] | None = None,
    level: float = 0.95,
    method: Method = "t",
) -> pd.DataFrame:
    """One row per (point, metric) over the point's finished runs."""
    metrics = list(metrics) if metrics is not None else metric_columns(runs, parameters)
    done = runs[runs["status"].isin(FINISHED)]
    rows = []
    for point, group in done.groupby("point", sort=True):
        where = {p: group[p].iloc[0] for p in parameters}
        for metric in metrics:
            n, mean, std, low, high = mean_ci(group[metric].to_numpy(float), level, method)
            note = f"n = {n} < {SMALL_N}" if 0 < n < SMALL_N else ""
            rows.append(
                {"point": point, **where, "metric": metric, "n": n, "mean": mean, "std": std}
                | {"ci_low": low, "ci_high": high, "note": note}
            )
    columns = ["point", *parameters, "metric", *STAT_COLUMNS]
    return pd.DataFrame(rows, columns=columns)


def point_counts(runs: pd.DataFrame, parameters: Sequence[str]) -> pd.DataFrame:
    """Runs per point: how many finished, failed and are still pending."""
    status = runs["status"]
    table = runs.assign(
        runs=1,
        finished=status.isin(FINISHED).astype(int),
        failed=(status == "failed").astype(int),
        pending=(status == "pending").astype(int),
    )
    keys = ["point", *parameters]
    return (
        table.groupby(keys, sort=True, dropna=False)[["runs", "finished", "failed", "pending"]]
        .sum()
        .reset_index()
    )
