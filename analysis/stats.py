"""Statistics per grid point, and paired contrasts between points, with honest intervals.

``point_stats(runs, parameters)`` turns a runs table (``analysis.runs.runs_table``) into a
tidy table with one row per (point, metric): the point's parameter values, ``n`` (finished
runs with a value for the metric), ``mean``, ``std`` (sample, ddof 1), ``ci_low`` and
``ci_high``, the interval ``method``, ``timed_out`` (how many of the n runs hit
``run.max_time_s``: they are pooled, and counted so) and a ``note``.

``paired_contrasts(runs, parameters)`` gives differences between points *paired by seed*:
a seed gives the same data and models at every point, so the difference of two points on the
same seed cancels that noise (often most of it). Each point is contrasted with its
neighbours along every axis (the next grid value, other axes fixed) and with a baseline
point (the first of the plan), on the seeds both finished.

Intervals (``Method``):

- ``t``: Student's t on the mean;
- ``bootstrap``: the percentile bootstrap of the mean (seeded: ``numpy.random.default_rng``
  of an explicit seed; no global RNG);
- ``auto`` (the default): the bootstrap for bounded metrics (a declared range in
  ``analysis.metrics``) below ``SMALL_N`` values, where t's symmetric, unbounded interval
  is not appropriate; t otherwise.

Every interval is clipped to the metric's declared range (a difference's range is
[low − high, high − low]). No interval is given for fewer than two values or when all are
equal: zero spread among few runs is not certainty, and the note says so with n.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd

from analysis.metrics import metric_range
from analysis.runs import FINISHED, metric_columns

SMALL_N = 20
"""Below this many runs per point an interval is flagged: it rests on few samples."""
Method = Literal["auto", "t", "bootstrap"]
STAT_COLUMNS = ("n", "mean", "std", "ci_low", "ci_high", "method", "timed_out", "note")
CONTRAST_COLUMNS = (
    "contrast",
    "axis",
    "from_point",
    "to_point",
    "metric",
    "n",
    "mean",
    "std",
    "ci_low",
    "ci_high",
    "method",
    "note",
)
UNBOUNDED = (-math.inf, math.inf)


def choose_method(method: Method, bounds: tuple[float, float], n: int) -> str:
    """The interval method ``auto`` resolves to for a metric's ``bounds`` and ``n``."""
    if method != "auto":
        return method
    bounded = math.isfinite(bounds[0]) and math.isfinite(bounds[1])
    return "bootstrap" if bounded and n < SMALL_N else "t"


def mean_ci(
    values: Sequence[float] | np.ndarray,
    level: float = 0.95,
    method: Method = "t",
    seed: int = 0,
    resamples: int = 2000,
    bounds: tuple[float, float] = UNBOUNDED,
) -> tuple[int, float, float, float, float]:
    """(n, mean, std, ci_low, ci_high) of the finite ``values``; NaN where undefined.

    The interval is clipped to ``bounds``; it is NaN below two values or when all values
    are equal (no spread is not certainty).
    """
    x = np.asarray(values, dtype=float)
    x = x[np.isfinite(x)]
    n = len(x)
    if n == 0:
        return 0, math.nan, math.nan, math.nan, math.nan
    mean = float(x.mean())
    if n == 1:
        return 1, mean, math.nan, math.nan, math.nan
    std = float(x.std(ddof=1))
    if _no_spread(std, x):
        return n, mean, std, math.nan, math.nan
    if choose_method(method, bounds, n) == "bootstrap":
        rng = np.random.default_rng(seed)
        means = x[rng.integers(0, n, size=(resamples, n))].mean(axis=1)
        tail = (1 - level) / 2 * 100
        low, high = (float(v) for v in np.percentile(means, [tail, 100 - tail]))
    else:
        from scipy import stats

        half = float(stats.t.ppf(0.5 + level / 2, n - 1)) * std / math.sqrt(n)
        low, high = mean - half, mean + half
    return n, mean, std, max(low, bounds[0]), min(high, bounds[1])


def _no_spread(std: float, x: np.ndarray) -> bool:
    """All values equal up to rounding (a difference of equal floats may leave 1e-17)."""
    return std <= 1e-12 * max(1.0, float(np.abs(x).max()))


def _note(n: int, std: float, timed_out: int, x: np.ndarray | None = None) -> str:
    parts = []
    if 0 < n < SMALL_N:
        parts.append(f"n = {n} < {SMALL_N}")
    if n == 1:
        parts.append("one run: no interval")
    elif n > 1 and x is not None and _no_spread(std, x[np.isfinite(x)]):
        parts.append(f"all {n} equal: no interval")
    if timed_out:
        parts.append(f"{timed_out} timed out (pooled)")
    return "; ".join(parts)


def point_stats(
    runs: pd.DataFrame,
    parameters: Sequence[str],
    metrics: Sequence[str] | None = None,
    level: float = 0.95,
    method: Method = "auto",
) -> pd.DataFrame:
    """One row per (point, metric) over the point's finished runs."""
    metrics = list(metrics) if metrics is not None else metric_columns(runs, parameters)
    done = runs[runs["status"].isin(FINISHED)]
    rows = []
    for point, group in done.groupby("point", sort=True):
        where = {p: group[p].iloc[0] for p in parameters}
        for metric in metrics:
            values = group[metric].to_numpy(float)
            bounds = metric_range(metric)
            n, mean, std, low, high = mean_ci(values, level, method, bounds=bounds)
            finite = np.isfinite(values)
            timed_out = int((group["status"].to_numpy() == "timed_out")[finite].sum())
            rows.append(
                {"point": point, **where, "metric": metric, "n": n, "mean": mean, "std": std}
                | {"ci_low": low, "ci_high": high, "method": choose_method(method, bounds, n)}
                | {"timed_out": timed_out, "note": _note(n, std, timed_out, values)}
            )
    columns = ["point", *parameters, "metric", *STAT_COLUMNS]
    return pd.DataFrame(rows, columns=columns)


def point_counts(runs: pd.DataFrame, parameters: Sequence[str]) -> pd.DataFrame:
    """Runs per point: how many finished (of them timed out), failed and are still pending."""
    status = runs["status"]
    table = runs.assign(
        runs=1,
        finished=status.isin(FINISHED).astype(int),
        timed_out=(status == "timed_out").astype(int),
        failed=(status == "failed").astype(int),
        pending=(status == "pending").astype(int),
    )
    keys = ["point", *parameters]
    counted = ["runs", "finished", "timed_out", "failed", "pending"]
    return table.groupby(keys, sort=True, dropna=False)[counted].sum().reset_index()


# ---------------------------------------------------------------- paired contrasts


def neighbours(points: pd.DataFrame, axes: Sequence[Sequence[str]]) -> list[tuple[str, int, int]]:
    """(axis key, point, next point) for each step along each axis, other axes fixed.

    ``points`` has one row per point with its parameter values; an axis is the list of its
    (zipped) keys, ordered by its first key's values.
    """
    out = []
    keys = [k for axis in axes for k in axis]
    for axis in axes:
        if not axis:
            continue
        others = [k for k in keys if k not in axis]
        groups = points.groupby(others, sort=True, dropna=False) if others else [((), points)]
        for _, g in groups:
            ordered = g.sort_values(axis[0], key=_sort_key, kind="stable")
            pts = [int(p) for p in ordered["point"]]
            out += [(axis[0], a, b) for a, b in itertools.pairwise(pts)]
    return out


def _sort_key(column: pd.Series) -> pd.Series:
    if pd.api.types.is_numeric_dtype(column.dtype):
        return column
    return column.astype(str)


def paired_difference(
    runs: pd.DataFrame,
    metric: str,
    from_point: int,
    to_point: int,
    level: float = 0.95,
    method: Method = "auto",
) -> dict[str, Any]:
    """Mean of (to − from) over the seeds where both points finished with a value."""
    done = runs[runs["status"].isin(FINISHED)]
    a = done[done["point"] == from_point].set_index("seed")[metric].astype(float)
    b = done[done["point"] == to_point].set_index("seed")[metric].astype(float)
    both = pd.concat([a.rename("a"), b.rename("b")], axis=1, join="inner").dropna()
    diff = (both["b"] - both["a"]).to_numpy(float)
    low, high = metric_range(metric)
    bounds = (low - high, high - low)
    n, mean, std, ci_low, ci_high = mean_ci(diff, level, method, bounds=bounds)
    unpaired = len(a.dropna()) + len(b.dropna()) - 2 * n
    note = _note(n, std, 0, diff)
    if unpaired:
        note = "; ".join(x for x in (note, f"{unpaired} run(s) without a partner seed") if x)
    return {"n": n, "mean": mean, "std": std, "ci_low": ci_low, "ci_high": ci_high} | {
        "method": choose_method(method, bounds, n),
        "note": note,
    }


def paired_contrasts(
    runs: pd.DataFrame,
    parameters: Sequence[str],
    metrics: Sequence[str] | None = None,
    axes: Sequence[Sequence[str]] | None = None,
    baseline: int | None = None,
    level: float = 0.95,
    method: Method = "auto",
) -> pd.DataFrame:
    """Paired-by-seed differences: each neighbour step along each axis, and every point
    against ``baseline`` (default: the first point). Columns: ``CONTRAST_COLUMNS``."""
    metrics = list(metrics) if metrics is not None else metric_columns(runs, parameters)
    axes = [list(a) for a in axes] if axes is not None else [[p] for p in parameters]
    points = runs.drop_duplicates("point").sort_values("point")[["point", *parameters]]
    if points.empty:
        return pd.DataFrame(columns=list(CONTRAST_COLUMNS))
    base = int(points["point"].iloc[0]) if baseline is None else baseline
    pairs = [("neighbour", axis, a, b) for axis, a, b in neighbours(points, axes)]
    pairs += [("baseline", "", base, int(p)) for p in points["point"] if int(p) != base]
    rows = []
    for contrast, axis, a, b in pairs:
        for metric in metrics:
            found = paired_difference(runs, metric, a, b, level, method)
            rows.append(
                {"contrast": contrast, "axis": axis, "from_point": a, "to_point": b}
                | {"metric": metric}
                | found
            )
    return pd.DataFrame(rows, columns=list(CONTRAST_COLUMNS))
