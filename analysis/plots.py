"""Figures of a sweep: which to draw (from what it varies and measures), and drawing them.

``choose_figures(parameters, metrics)`` is pure: it picks figures by the varied key paths and
the metric columns that exist —

- the oracle's all-submissions fusion accuracy against the number of models when
  ``population.contributors`` varies (paper Fig. 6; one line per fusion strategy when
  ``fusion.strategy`` varies too);
- payment fairness beside the honest committee's against a dishonest fraction
  (``population.<role>_behaviours.<behaviour>``), the wrong-outcome rate, and the free
  riders' share of the payments against a dishonest contributor fraction;
- net profit per agent of each role and behaviour against the verifier stake: the
  incentive-compatibility chart (where does lying pay?);
- time until contributors and verifiers withdraw their pay, and the share of credit never
  withdrawn, against a churn rate (``churn.<role>.arrivals_per_hour`` or a session length);
- gas per task against the first varied parameter;
- task success and the initiator's model accuracy (those not drawn already) against every
  varied parameter.

``draw`` renders one figure from ``analysis.stats.point_stats`` rows: the mean as a line with
its confidence interval as a band (clipped to the metric's range; the method and the runs
per point are stated under the title), one line per combination of the other varied
parameters (or per metric, with one panel per combination, when a figure shows several
metrics). Labels and units come from ``analysis.metrics``' registry. It uses matplotlib's
object API on an Agg canvas: no pyplot, no global state.
"""

from __future__ import annotations

import dataclasses
import io
import re
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from analysis.metrics import WEI_PER_ETHER, metric_info

if TYPE_CHECKING:
    from matplotlib.axes import Axes

PROFIT_PREFIX = "net_profit_by_behaviour."
_CONTRIBUTORS = re.compile(r"population\.contributors")
_DISHONEST = re.compile(r"population\.(verifier|contributor)_behaviours\.\w+")
_STAKE = re.compile(r"tasks\[\d+\]\.verifier_stake_ether")
_CHURN = re.compile(r"churn\.\w+\.(arrivals_per_hour|session_s(\.\w+)?)")
_EPSILON = re.compile(r"(training\.privacy|behaviours\.private)\.epsilon")
PRIVACY = (
    "mia_auc_loss",
    "mia_auc_lira",
    "mia_tpr_at_1pct_loss",
    "mia_tpr_at_1pct_lira",
    "initiator_accuracy",
)
"""The price of privacy on one axis: the leak the audits measure, the initiator's accuracy."""
HEADLINE = ("task_success_rate", "initiator_accuracy")
PAYOUT = ("payout_time_first.", "payout_time_last.")


@dataclass(frozen=True)
class FigureSpec:
    """One figure: metrics (as lines) against one varied parameter."""

    name: str
    """File stem of the PNG."""
    title: str
    x: str
    metrics: tuple[str, ...]
    ylabel: str
    zero_line: bool = False
    scale: float = 1.0
    """Factor applied to values before plotting (wei -> ether)."""
    lines_by: tuple[str, ...] = ()
    """The other axes' keys: one line (or panel) per combination of their values."""


def choose_figures(axes: Sequence[Sequence[str]], metrics: Sequence[str]) -> list[FigureSpec]:
    """The figures worth drawing for a sweep along ``axes`` that measured ``metrics``.

    ``axes`` lists the key paths of each axis (a zipped group has several; any of them can
    match a rule, and the others of its group are never plotted against it).
    """
    have = set(metrics)
    figures: list[FigureSpec] = []
    for i, axis in enumerate(axes):
        others = tuple(a[0] for j, a in enumerate(axes) if j != i and a)
        found = [
            dataclasses.replace(f, lines_by=others) for x in axis for f in _rules(x, have, metrics)
        ]
        shown = {m for f in found for m in f.metrics}
        headline = tuple(m for m in HEADLINE if m in have and m not in shown)
        if axis and headline:
            x = next((f.x for f in found), axis[0])
            title = f"Task outcomes vs {x}"
            found.append(
                FigureSpec(
                    f"outcomes-vs-{_slug(x)}",
                    title,
                    x,
                    headline,
                    "rate / accuracy",
                    lines_by=others,
                )
            )
        figures += found
    if axes and axes[0] and "gas_per_task" in have:
        x = axes[0][0]
        others = tuple(a[0] for a in axes[1:] if a)
        title = f"Gas per task vs {x}"
        figures.append(
            FigureSpec(
                f"gas-per-task-vs-{_slug(x)}",
                title,
                x,
                ("gas_per_task",),
                label("gas_per_task"),
                lines_by=others,
            )
        )
    return figures


def _rules(x: str, have: set[str], metrics: Sequence[str]) -> list[FigureSpec]:
    slug = _slug(x)
    out = []
    if _CONTRIBUTORS.fullmatch(x) and "oracle_fused_accuracy" in have:
        title = "Fused accuracy of all submissions vs number of models (paper Fig. 6)"
        out.append(
            FigureSpec(
                f"fig6-fused-accuracy-vs-{slug}",
                title,
                x,
                ("oracle_fused_accuracy",),
                label("oracle_fused_accuracy"),
            )
        )
    if match := _DISHONEST.fullmatch(x):
        role = match.group(1)
        if "payment_fairness" in have:
            pair = tuple(m for m in ("payment_fairness", "honest_payment_fairness") if m in have)
            title = f"Payment fairness (as paid, and as an honest committee would pay) vs {x}"
            out.append(
                FigureSpec(f"payment-fairness-vs-{slug}", title, x, pair, "payment fairness")
            )
        wanted = ["wrong_outcome_rate"] + (["free_rider_share"] if role == "contributor" else [])
        for m in wanted:
            if m in have:
                name = f"{_slug(m)}-vs-{slug}"
                out.append(FigureSpec(name, f"{label(m)} vs {x}", x, (m,), label(m)))
    if _STAKE.fullmatch(x):
        profits = _profit_metrics(metrics)
        if profits:
            scale = 1 / WEI_PER_ETHER
            title = "Net profit per behaviour vs stake: where does lying pay?"
            out.append(
                FigureSpec(
                    f"incentives-vs-{slug}",
                    title,
                    x,
                    profits,
                    "net profit per agent (ether)",
                    zero_line=True,
                    scale=scale,
                )
            )
    if _EPSILON.fullmatch(x):
        out += _privacy_figures(x, slug, have, metrics)
    if _CHURN.fullmatch(x):
        times = tuple(m for m in metrics if m.startswith(PAYOUT) and not m.endswith(".initiator"))
        if times:
            title = f"Time until contributors and verifiers withdraw their pay vs {x}"
            out.append(
                FigureSpec(f"payout-time-vs-{slug}", title, x, times, "seconds after creation")
            )
        unclaimed = tuple(m for m in metrics if m.startswith("unclaimed_credit_share."))
        if unclaimed:
            title = f"Share of credit never withdrawn vs {x}"
            out.append(
                FigureSpec(f"unclaimed-credit-vs-{slug}", title, x, unclaimed, "share of credit")
            )
    return out


def _privacy_figures(x: str, slug: str, have: set[str], metrics: Sequence[str]) -> list[FigureSpec]:
    """Against a privacy budget ε: the membership leak beside the initiator's accuracy, and
    contributors' net profit by behaviour (what privacy costs the one who keeps it)."""
    out = []
    leak = tuple(m for m in PRIVACY if m in have)
    if leak:
        title = (
            f"The price of privacy: membership-inference leak and the initiator's accuracy vs {x}"
        )
        out.append(FigureSpec(f"privacy-price-vs-{slug}", title, x, leak, "AUC / TPR / accuracy"))
    pay = tuple(m for m in metrics if m.startswith(f"{PROFIT_PREFIX}contributor."))
    if pay:
        out.append(
            FigureSpec(
                f"contributor-pay-vs-{slug}",
                f"Contributors' net profit per agent vs {x}",
                x,
                pay,
                "net profit per agent (ether)",
                zero_line=True,
                scale=1 / WEI_PER_ETHER,
            )
        )
    return out


def _profit_metrics(metrics: Sequence[str]) -> tuple[str, ...]:
    """Contributors' and verifiers' mean net profit per agent, by behaviour (initiators buy a
    service; no behaviour of theirs is in question)."""
    return tuple(
        m
        for m in metrics
        if m.startswith(PROFIT_PREFIX) and not m.startswith(f"{PROFIT_PREFIX}initiator.")
    )


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def unit(metric: str) -> tuple[float, str]:
    """Factor and unit suffix for showing a metric (the registry's; wei amounts in ether)."""
    info = metric_info(metric)
    if info is not None:
        return info.scale, f" ({info.shown_unit})" if info.shown_unit else ""
    if metric.endswith("_wei"):
        return 1 / WEI_PER_ETHER, " (ether)"
    return 1.0, ""


def label(metric: str) -> str:
    """A metric's name for people (the registry's label; profit columns lose their prefix)."""
    if metric.startswith(PROFIT_PREFIX):
        return metric.removeprefix(PROFIT_PREFIX).replace(".", " ")
    info = metric_info(metric)
    return info.label if info is not None else metric


# ---------------------------------------------------------------- drawing


def draw(spec: FigureSpec, stats: pd.DataFrame, level: float = 0.95) -> bytes:
    """``spec`` rendered from ``point_stats`` rows, as the bytes of a PNG file."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    rows = stats[stats["metric"].isin(spec.metrics) & (stats["n"] > 0)]
    others = list(spec.lines_by)
    groups = _groups(rows, others)
    panels = groups if len(spec.metrics) > 1 and len(groups) > 1 else [("", rows)]
    ncols = min(3, len(panels))
    nrows = -(-len(panels) // ncols)
    fig = Figure(figsize=(6.0 * ncols, 4.2 * nrows), layout="constrained")
    FigureCanvasAgg(fig)
    axes = np.atleast_1d(fig.subplots(nrows, ncols, squeeze=False)).ravel()
    ticks = _ticks(rows[spec.x])
    for ax, (title, data) in zip(axes, panels, strict=False):
        if len(spec.metrics) > 1:
            lines = [(label(m), data[data["metric"] == m]) for m in spec.metrics]
        else:
            lines = [(name or label(spec.metrics[0]), d) for name, d in _groups(data, others)]
        log = ticks is None and _logarithmic(rows[spec.x])
        span = _span(rows[spec.x], ticks)
        for i, (name, d) in enumerate(lines):
            # lines that coincide stay visible: each is nudged sideways by a hair
            step = (i - (len(lines) - 1) / 2) * 0.008
            _line(ax, d, spec, ticks, name, step * (1 if log else span), log)
        ax.set_title(title, fontsize=9)
        ax.set_xlabel(spec.x)
        ax.set_ylabel(spec.ylabel)
        if spec.zero_line:
            ax.axhline(0.0, color="black", linewidth=0.8)
        if log:
            ax.set_xscale("log")
        if ticks is not None:
            ax.set_xticks(range(len(ticks)), [str(t) for t in ticks])
        elif rows[spec.x].nunique() <= 8:  # few grid values: mark exactly those
            grid_values = sorted(rows[spec.x].unique())
            ax.set_xticks(grid_values, [f"{v:g}" for v in grid_values])
        ax.grid(alpha=0.3)
        if len(lines) > 1 or lines[0][0] != label(spec.metrics[0]):
            ax.legend(fontsize=8)
    for ax in axes[len(panels) :]:
        ax.set_visible(False)
    fig.suptitle("\n".join(textwrap.wrap(spec.title, 45 * ncols)), fontsize=11)
    fig.supxlabel(band_note(rows, level), fontsize=8)
    png = io.BytesIO()
    fig.savefig(png, format="png", dpi=100)
    return png.getvalue()


def band_note(rows: pd.DataFrame, level: float = 0.95) -> str:
    """What the bands are: the interval method(s), the clipping, and the runs per point."""
    methods = {
        "t": "Student's t",
        "bootstrap": "percentile bootstrap (seeded)",
    }
    used = sorted({methods.get(str(m), str(m)) for m in rows.get("method", pd.Series([]))})
    n = rows["n"] if len(rows) else pd.Series([0])
    runs = f"n = {int(n.min())}" if n.min() == n.max() else f"n = {int(n.min())}–{int(n.max())}"
    how = " / ".join(used) or "Student's t"
    return (
        f"bands: {level:.0%} CI of the mean, {how}, clipped to the metric's range; "
        f"{runs} runs per point; no band where n = 1 or all runs agree"
    )


def _groups(rows: pd.DataFrame, keys: Sequence[str]) -> list[tuple[str, pd.DataFrame]]:
    if not keys:
        return [("", rows)]
    out = []
    for values, d in rows.groupby(list(keys), sort=True, dropna=False):
        vals = values if isinstance(values, tuple) else (values,)
        out.append((", ".join(f"{k}={v}" for k, v in zip(keys, vals, strict=True)), d))
    return out


def _ticks(x: pd.Series) -> list[object] | None:
    """Category labels when x is not numeric (then points sit at 0, 1, 2, ...)."""
    if pd.api.types.is_numeric_dtype(x.dtype) and not pd.api.types.is_bool_dtype(x.dtype):
        return None
    return sorted(x.dropna().unique(), key=str)


def _logarithmic(x: pd.Series) -> bool:
    """Positive grid values spanning 30× or more read better on a log axis."""
    values = x.to_numpy(float)
    return bool(len(values) and values.min() > 0 and values.max() / values.min() >= 30)


def _span(x: pd.Series, ticks: list[object] | None) -> float:
    if ticks is not None:
        return float(max(len(ticks) - 1, 1))
    values = x.to_numpy(float)
    if not len(values):
        return 1.0
    return float(values.max() - values.min()) or 1.0


def _line(
    ax: Axes,
    d: pd.DataFrame,
    spec: FigureSpec,
    ticks: list[object] | None,
    name: str,
    nudge: float = 0.0,
    log: bool = False,
) -> None:
    d = d.sort_values(spec.x)
    xs = np.asarray(
        [ticks.index(v) for v in d[spec.x]] if ticks is not None else d[spec.x].to_numpy(float),
        dtype=float,
    )
    xs = xs * (1 + 4 * nudge) if log else xs + nudge
    mean = d["mean"].to_numpy(float) * spec.scale
    low = d["ci_low"].to_numpy(float) * spec.scale
    high = d["ci_high"].to_numpy(float) * spec.scale
    (handle,) = ax.plot(xs, mean, marker="o", label=name)
    ax.fill_between(xs, low, high, alpha=0.2, color=handle.get_color(), linewidth=0)
