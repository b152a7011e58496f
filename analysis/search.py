"""Pages of a parameter search (``baasim tune``) and a sensitivity analysis
(``baasim sensitivity``): figures and HTML from their tables, nothing written.

``tune_page`` takes the trials table (one row per trial: parameters, objective values,
constraint violations, feasibility, metrics with intervals) and renders the best feasible
trial (one objective) or the feasible Pareto front (several), the optimisation history, the
Pareto front's figure, the parameter importances (Optuna's fANOVA, computed by the caller)
and the trials table. ``sensitivity_page`` takes the indices table (one row per output and
parameter: Sobol first- and total-order indices with confidence half-widths, or Morris μ*,
its half-width, and σ) and draws one bar chart per output, with a sentence naming the
parameters that explain most of the output's variance. The front end (``sim.sweep.tune``,
``sim.sweep.sensitivity``) writes what these return.
"""

from __future__ import annotations

import html
import io
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from analysis.metrics import metric_info
from analysis.report import IMAGE_CHECK_SCRIPT, PAGE_STYLE


@dataclass(frozen=True)
class Page:
    """A rendered page: its HTML, its figures (file name -> PNG bytes), and (tune) the best
    trials as plain rows."""

    html: str
    figures: dict[str, bytes]
    best: list[dict[str, Any]] = field(default_factory=list)


# ---------------------------------------------------------------- tune


def best_trials(trials: pd.DataFrame, objectives: Sequence[tuple[str, str]]) -> pd.DataFrame:
    """The best feasible trial (one objective; ties: the earliest) or the feasible trials no
    other feasible trial dominates (several objectives)."""
    if trials.empty or "feasible" not in trials:
        return trials.iloc[:0]
    ok = trials[trials["feasible"].astype(bool)]
    if ok.empty:
        return ok
    signs = np.array([1.0 if d == "minimize" else -1.0 for _, d in objectives])
    cols = [f"objective.{m}" for m, _ in objectives]
    x = ok[cols].to_numpy(dtype=float) * signs
    if len(objectives) == 1:
        return ok.iloc[[int(np.argmin(x[:, 0]))]]
    front = [
        i
        for i in range(len(x))
        if not any(np.all(x[j] <= x[i]) and np.any(x[j] < x[i]) for j in range(len(x)))
    ]
    return ok.iloc[front]


def tune_page(
    *,
    name: str,
    description: str,
    definition: str,
    trials: pd.DataFrame,
    params: Sequence[str],
    objectives: Sequence[tuple[str, str]],
    constraints: Sequence[str],
    importances: Mapping[str, Mapping[str, float]],
    level: float,
) -> Page:
    """The tune report: best trial(s), history, Pareto front, importances, trials table."""
    best = best_trials(trials, objectives)
    figures: dict[str, bytes] = {}
    if not trials.empty and any(f"objective.{m}" in trials for m, _ in objectives):
        figures["history.png"] = _history(trials, objectives)
        if len(objectives) >= 2:
            figures["pareto.png"] = _pareto(trials, objectives, best)
    if importances:
        figures["importances.png"] = _importances(importances)
    parts = [
        _head(f"baasim tune: {name}"),
        f"<h1>Tune: {_e(name)}</h1>",
        f"<p>{_e(description)}</p>" if description else "",
        _tune_overview(trials, objectives, constraints),
        "<h2>Best</h2>",
        _best(best, params, objectives, trials, level),
        "<h2>Figures</h2>",
        "".join(
            f'<figure><img src="{n}" alt="{n}"><figcaption>{_e(_caption(n))}</figcaption></figure>'
            for n in figures
        ),
        _importance_table(importances),
        "<h2>Trials</h2>",
        _table_html(_trial_rows(trials, params, objectives)),
        "<h2>Definition</h2>",
        f"<pre>{_e(definition)}</pre>",
        f"<script>{IMAGE_CHECK_SCRIPT}</script></body></html>",
    ]
    rows = [_plain_row(r) for r in best.to_dict("records")]
    return Page("\n".join(p for p in parts if p) + "\n", figures, rows)


def _tune_overview(
    trials: pd.DataFrame, objectives: Sequence[tuple[str, str]], constraints: Sequence[str]
) -> str:
    states = trials["state"].value_counts().to_dict() if not trials.empty else {}
    feasible = int(trials["feasible"].sum()) if "feasible" in trials else 0
    goal = "; ".join(f"{d} {_label(m)}" for m, d in objectives)
    cons = "".join(f"<li>{_e(c)}</li>" for c in constraints) or "<li>none</li>"
    sampler = "TPE" if len(objectives) == 1 else "NSGA-II"
    return (
        f"<p>{len(trials)} trial(s): "
        + ", ".join(f"{v} {str(k).lower()}" for k, v in sorted(states.items()))
        + f"; {feasible} feasible. Goal: {_e(goal)} (Optuna {sampler}). Objective values are "
        "means over the seeds of each trial, in the metric's shown unit.</p>"
        f"<p>Constraints (a trial is feasible when every one holds):</p><ul>{cons}</ul>"
    )


def _best(
    best: pd.DataFrame,
    params: Sequence[str],
    objectives: Sequence[tuple[str, str]],
    trials: pd.DataFrame,
    level: float,
) -> str:
    if best.empty:
        return '<p class="note">No feasible trial yet: no point met every constraint.</p>'
    metrics = sorted({c[: -len(".mean")] for c in trials.columns if c.endswith(".mean")})
    head = ["trial", *params, *(f"{_label(m)} mean [{level:.0%} CI]" for m in metrics)]
    rows = []
    for r in best.to_dict("records"):
        cells = [str(r["trial"]), *(_fmt(r.get(p)) for p in params)]
        for m in metrics:
            mean, low, high = (r.get(f"{m}.{k}") for k in ("mean", "ci_low", "ci_high"))
            ci = "" if _nan(low) else f" [{_fmt(low)}, {_fmt(high)}]"
            cells.append(f"{_fmt(mean)}{ci}")
        rows.append(cells)
    what = "the best feasible trial" if len(objectives) == 1 else "the feasible Pareto front"
    return f"<p>{what}:</p>" + _table_html((head, rows))


def _trial_rows(
    trials: pd.DataFrame, params: Sequence[str], objectives: Sequence[tuple[str, str]]
) -> tuple[list[str], list[list[str]]]:
    violations = sorted(c for c in trials.columns if c.startswith("violation."))
    head = ["trial", "state", *params, *(_label(m) for m, _ in objectives)]
    head += [f"constraint {c.split('.')[1]} violation" for c in violations]
    head += ["feasible", "error"]
    rows = []
    for r in trials.to_dict("records"):
        cells = [str(r["trial"]), str(r["state"]), *(_fmt(r.get(p)) for p in params)]
        cells += [_fmt(r.get(f"objective.{m}")) for m, _ in objectives]
        cells += [_fmt(r.get(c)) for c in violations]
        cells += ["yes" if r.get("feasible") else "no", str(r.get("error") or "")]
        rows.append(cells)
    return head, rows


def _history(trials: pd.DataFrame, objectives: Sequence[tuple[str, str]]) -> bytes:
    fig, axes = _figure(len(objectives), 1, height=3.6)
    for ax, (metric, direction) in zip(axes, objectives, strict=True):
        col = f"objective.{metric}"
        done = trials[trials["state"] == "COMPLETE"]
        feasible = done[done["feasible"].astype(bool)]
        ax.scatter(done["trial"], done[col], s=18, color="#bbbbbb", label="infeasible")
        ax.scatter(feasible["trial"], feasible[col], s=22, color="#1f77b4", label="feasible")
        if not feasible.empty:
            values = feasible[col].to_numpy(dtype=float)
            running = (
                np.minimum.accumulate(values)
                if direction == "minimize"
                else np.maximum.accumulate(values)
            )
            ax.step(
                feasible["trial"],
                running,
                where="post",
                color="#d62728",
                label="best feasible so far",
            )
        ax.set_xlabel("trial")
        ax.set_ylabel(_label(metric))
        ax.set_title(f"{direction} {_label(metric)}", fontsize=10)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    return _png(fig)


def _pareto(
    trials: pd.DataFrame, objectives: Sequence[tuple[str, str]], best: pd.DataFrame
) -> bytes:
    (mx, dx), (my, dy) = objectives[0], objectives[1]
    cx, cy = f"objective.{mx}", f"objective.{my}"
    fig, axes = _figure(1, 1, height=4.2)
    ax = axes[0]
    done = trials[trials["state"] == "COMPLETE"]
    feasible = done[done["feasible"].astype(bool)]
    ax.scatter(done[cx], done[cy], s=18, color="#bbbbbb", label="infeasible")
    ax.scatter(feasible[cx], feasible[cy], s=22, color="#1f77b4", label="feasible")
    front = best.sort_values(cx)
    ax.plot(front[cx], front[cy], "o-", color="#d62728", label="Pareto front")
    ax.set_xlabel(f"{_label(mx)} ({dx})")
    ax.set_ylabel(f"{_label(my)} ({dy})")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return _png(fig)


def _importances(importances: Mapping[str, Mapping[str, float]]) -> bytes:
    fig, axes = _figure(len(importances), 1, height=3.2)
    for ax, (metric, values) in zip(axes, importances.items(), strict=True):
        names = list(values)[::-1]
        ax.barh(names, [values[n] for n in names], color="#2ca02c")
        ax.set_xlim(0, 1)
        ax.set_xlabel("fANOVA importance (share of the objective's variance, 0-1)")
        ax.set_title(_label(metric), fontsize=10)
    return _png(fig)


def _importance_table(importances: Mapping[str, Mapping[str, float]]) -> str:
    if not importances:
        return "<p>Parameter importances need at least two complete trials.</p>"
    rows = [
        [_label(m), p, f"{v:.3f}"] for m, values in importances.items() for p, v in values.items()
    ]
    return "<h2>Parameter importances</h2>" + _table_html(
        (["objective", "parameter", "importance"], rows)
    )


# ---------------------------------------------------------------- sensitivity


def sensitivity_page(
    *,
    name: str,
    description: str,
    definition: str,
    method: str,
    indices: pd.DataFrame,
    notes: Mapping[str, str],
    samples: int,
    runs: int,
    level: float,
) -> Page:
    """The sensitivity report: one bar chart and one sentence per output."""
    figures: dict[str, bytes] = {}
    sections = []
    for i, (output, rows) in enumerate(indices.groupby("output", sort=False)):
        fname = f"indices_{i}.png"
        figures[fname] = _index_chart(str(output), rows, method, level)
        sections.append(
            f"<h3>{_e(_label(str(output)))}</h3><p>{_e(explain(rows, method))}</p>"
            f'<figure><img src="{fname}" alt="{_e(str(output))}"></figure>'
            + _table_html(_index_rows(rows, method))
        )
    for output, note in notes.items():
        sections.append(f'<h3>{_e(_label(output))}</h3><p class="note">{_e(note)}</p>')
    what = (
        "Sobol indices (Saltelli sampling): S1, the share of the output's variance a "
        "parameter explains alone; ST, the share it explains with all its interactions. "
        f"Error bars are {level:.0%} confidence intervals (SALib's bootstrap); an interval "
        "that covers 0 means no evidence the parameter matters."
        if method == "sobol"
        else "Morris elementary effects: μ*, the mean absolute change of the output per "
        "step of the parameter (across its range), with its confidence interval; σ, their "
        "spread (interactions or non-linearity)."
    )
    parts = [
        _head(f"baasim sensitivity: {name}"),
        f"<h1>Sensitivity: {_e(name)}</h1>",
        f"<p>{_e(description)}</p>" if description else "",
        f"<p>{_e(what)} {samples} sample(s), {runs} run(s).</p>",
        *sections,
        "<h2>Definition</h2>",
        f"<pre>{_e(definition)}</pre>",
        f"<script>{IMAGE_CHECK_SCRIPT}</script></body></html>",
    ]
    return Page("\n".join(p for p in parts if p) + "\n", figures)


def explain(rows: pd.DataFrame, method: str) -> str:
    """One sentence: which parameters explain most of the output's variance."""
    key = "ST" if method == "sobol" else "mu_star"
    ordered = rows.sort_values(key, ascending=False)
    if method == "sobol":
        low = ordered["ST"] - ordered["ST_conf"]
        matters = ordered[low > 0]
        if matters.empty:
            return "No parameter has a total-order index whose interval excludes 0."
        total = ordered["ST"].clip(lower=0).sum()
        names = [
            f"{r['parameter']} (ST {r['ST']:.2f} ± {r['ST_conf']:.2f})"
            for r in matters.to_dict("records")
        ]
        share = matters["ST"].clip(lower=0).sum() / total if total > 0 else math.nan
        return (
            f"{_join(names)} explain{'s' if len(names) == 1 else ''} most of the variance "
            f"({share:.0%} of the summed total-order indices); the rest's intervals cover 0."
        )
    top = ordered.iloc[0]
    return (
        f"{top['parameter']} has the largest elementary effects (μ* {top['mu_star']:.3g}), "
        + ", ".join(
            f"then {r['parameter']} ({r['mu_star']:.3g})"
            for r in ordered.iloc[1:].to_dict("records")
        )
        + "."
    ).replace("), .", ").")


def _index_chart(output: str, rows: pd.DataFrame, method: str, level: float) -> bytes:
    fig, axes = _figure(1, 1, height=0.5 * len(rows) + 2.0)
    ax = axes[0]
    y = np.arange(len(rows))
    if method == "sobol":
        for off, key, color in ((-0.18, "S1", "#1f77b4"), (0.18, "ST", "#ff7f0e")):
            ax.barh(
                y + off,
                rows[key],
                height=0.34,
                xerr=_clipped(rows[key], rows[f"{key}_conf"]),
                color=color,
                label=key,
                capsize=3,
            )
        ax.set_xlim(min(0.0, float(rows[["S1", "ST"]].min().min())) - 0.05, 1.05)
        ax.set_xlabel(f"Sobol index (share of variance), {level:.0%} CI clipped to [0, 1]")
        ax.axvline(0, color="black", linewidth=0.8)
        ax.legend(fontsize=8)
    else:
        ax.barh(
            y,
            rows["mu_star"],
            # μ* is a mean of absolute effects: its interval is drawn no lower than 0
            xerr=np.vstack(
                [np.minimum(rows["mu_star_conf"], rows["mu_star"]), rows["mu_star_conf"]]
            ),
            color="#2ca02c",
            capsize=3,
            label="μ*",
        )
        ax.scatter(rows["sigma"], y, color="black", zorder=3, label="σ")
        ax.set_xlabel(f"elementary effect ({_unit(output)})")
        ax.legend(fontsize=8)
    ax.set_yticks(y, list(rows["parameter"]))
    ax.set_title(_label(output), fontsize=10)
    ax.grid(alpha=0.3, axis="x")
    return _png(fig)


def _clipped(value: pd.Series, half: pd.Series) -> np.ndarray:
    """Error bar lengths of ``value ± half`` drawn inside an index's range, [0, 1] (a small
    sample's bootstrap interval can reach beyond it)."""
    v = value.to_numpy(dtype=float)
    h = half.to_numpy(dtype=float)
    low = np.clip(v - h, 0.0, 1.0)
    high = np.clip(v + h, 0.0, 1.0)
    return np.vstack([np.maximum(v - low, 0.0), np.maximum(high - v, 0.0)])


def _index_rows(rows: pd.DataFrame, method: str) -> tuple[list[str], list[list[str]]]:
    if method == "sobol":
        head = ["parameter", "S1", "S1 ±", "ST", "ST ±"]
        keys = ["S1", "S1_conf", "ST", "ST_conf"]
    else:
        head = ["parameter", "μ*", "μ* ±", "σ", "μ"]
        keys = ["mu_star", "mu_star_conf", "sigma", "mu"]
    body = [[str(r["parameter"]), *(_fmt(r[k]) for k in keys)] for r in rows.to_dict("records")]
    return head, body


# ---------------------------------------------------------------- helpers


def _figure(n: int, ncols: int, height: float) -> tuple[Any, list[Any]]:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    nrows = -(-n // ncols)
    fig = Figure(figsize=(7.0 * ncols, height * nrows), layout="constrained")
    FigureCanvasAgg(fig)
    axes = list(np.atleast_1d(fig.subplots(nrows, ncols, squeeze=False)).ravel())
    return fig, axes


def _png(fig: Any) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    return buf.getvalue()


def _caption(name: str) -> str:
    return {
        "history.png": "Optimisation history: each trial's objective (grey: infeasible), and "
        "the best feasible value so far.",
        "pareto.png": "The first two objectives of every complete trial; red: the feasible "
        "Pareto front.",
        "importances.png": "fANOVA parameter importances per objective (they sum to 1).",
    }.get(name, name)


def _label(metric: str) -> str:
    info = metric_info(metric)
    if info is None:
        return metric
    shown = info.shown_unit or info.unit
    return f"{info.label} ({shown})" if shown and shown not in ("count", "fraction") else info.label


def _unit(metric: str) -> str:
    info = metric_info(metric)
    return (info.shown_unit or info.unit) if info is not None else ""


def _join(names: Sequence[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _head(title: str) -> str:
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{_e(title)}</title><style>{PAGE_STYLE}</style></head><body>"
    )


def _table_html(table: tuple[Sequence[str], Sequence[Sequence[str]]]) -> str:
    head, rows = table
    th = "".join(f"<th>{_e(h)}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{_e(c)}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>"


def _nan(x: Any) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x))


def _fmt(x: Any) -> str:
    if _nan(x):
        return "–"
    if isinstance(x, bool) or not isinstance(x, (int, float, np.integer, np.floating)):
        return str(x)
    x = float(x)
    return f"{x:,.0f}" if abs(x) >= 1e4 else f"{x:.4g}"


def _plain_row(row: Mapping[Any, Any]) -> dict[str, Any]:
    out = {}
    for k, v in row.items():
        plain = v.item() if isinstance(v, (np.integer, np.floating, np.bool_)) else v
        out[str(k)] = None if isinstance(plain, float) and math.isnan(plain) else plain
    return out


def _e(text: str) -> str:
    return html.escape(str(text), quote=True)
