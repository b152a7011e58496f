"""Does honesty pay? The deviation table: paired runs, per-seed gains, verdicts, one chart.

Pure: every function takes run summaries (``summary.json`` as dicts) or tables and returns
tables, plain data or bytes; ``sim.sweep.deviations`` reads the runs and writes the files.

A *pair* is one seed's base run and the same seed's run in which one agent (or a coalition)
plays a deviation kind. The deviators are the agents whose ``behaviour`` differs between the
two runs; the same agent name in the base run is their honest counterfactual. Profit is the
summary's per-agent ``net_profit_wei`` (pay − stake lost − gas − compute at the scenario's
prices, plus whatever else the run's accounting counts there, such as credit still owed by
the market), in ether. The gain of a pair is the deviators' total net profit deviating minus
honest; its 95 % confidence interval over seeds is Student's t over the paired differences
(``METHOD``). Verdict: ``profitable`` if the whole interval is above 0, ``unprofitable`` if
below, else ``inconclusive`` (also with fewer than two pairs).
"""

from __future__ import annotations

import html
import io
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

ETHER = 10**18
SMALL_N = 20
"""Fewer pairs than this get a note: the interval rests on few seeds."""
METHOD = "Student t interval over the per-seed paired differences (deviating − honest)"
VERDICTS = ("profitable", "unprofitable", "inconclusive")
COLOURS = {"profitable": "#c0392b", "unprofitable": "#2e7d32", "inconclusive": "#7f8c8d"}
KEYS = ("role", "kind", "coalition")


@dataclass(frozen=True)
class Pair:
    """One seed's base and deviating run of one deviation."""

    role: str
    kind: str
    coalition: int
    seed: int
    base: Mapping[str, Any]
    deviant: Mapping[str, Any]
    values: Mapping[str, Any] = field(default_factory=dict)
    """The grid point's values (a sweep's ``[deviations]``; empty for one scenario)."""


# ---------------------------------------------------------------- one pair


def net_profit(summary: Mapping[str, Any], names: Iterable[str]) -> float:
    """Total ``net_profit_wei`` of the named agents in one run, in ether."""
    agents = summary.get("agents", {})
    return sum(int(agents[n]["net_profit_wei"]) for n in names) / ETHER


def deviators(base: Mapping[str, Any], deviant: Mapping[str, Any]) -> list[str]:
    """Agents present in both runs whose behaviour differs, by name."""
    a, b = base.get("agents", {}), deviant.get("agents", {})
    return sorted(n for n in a if n in b and a[n].get("behaviour") != b[n].get("behaviour"))


def _honest_others(
    base: Mapping[str, Any], deviant: Mapping[str, Any], skip: set[str]
) -> list[str]:
    """Honest contributors and verifiers other than the deviators (the initiator's cost is
    reported on its own)."""
    a, b = base.get("agents", {}), deviant.get("agents", {})
    return sorted(
        n
        for n in a
        if n in b
        and n not in skip
        and a[n].get("behaviour") == "honest"
        and a[n].get("role") != "initiator"
    )


def _initiators(summary: Mapping[str, Any]) -> list[str]:
    agents = summary.get("agents", {})
    return sorted(n for n, a in agents.items() if a.get("role") == "initiator")


def model_accuracy(summary: Mapping[str, Any]) -> float:
    """Mean held-out accuracy of the models initiators got (NaN if none)."""
    values = [
        float(t["initiator_model_accuracy"])
        for t in summary.get("task_outcomes", [])
        if t.get("initiator_model_accuracy") is not None
    ]
    return float(np.mean(values)) if values else math.nan


def _accepted(summary: Mapping[str, Any]) -> dict[Any, bool]:
    return {t.get("task"): bool(t.get("accepted")) for t in summary.get("task_outcomes", [])}


def _metric(summary: Mapping[str, Any], key: str) -> float:
    value = summary.get(key)
    return float(value) if isinstance(value, (int, float)) else math.nan


def pair_row(pair: Pair) -> dict[str, Any]:
    """One row of ``deviations.parquet``: the deviators' profits and the effect on others."""
    base, dev = pair.base, pair.deviant
    names = deviators(base, dev)
    honest = net_profit(base, names) if names else math.nan
    deviating = net_profit(dev, names) if names else math.nan
    others = _honest_others(base, dev, set(names))
    changes = [net_profit(dev, [n]) - net_profit(base, [n]) for n in others]
    a, b = _accepted(base), _accepted(dev)
    initiators = _initiators(base)
    return {
        **pair.values,
        "role": pair.role,
        "kind": pair.kind,
        "coalition": pair.coalition,
        "seed": pair.seed,
        "base_run": base.get("run_id"),
        "deviant_run": dev.get("run_id"),
        "deviators": ",".join(names),
        "base_behaviour": ",".join(str(base["agents"][n].get("behaviour")) for n in names),
        "members": len(names),
        "profit_honest": honest,
        "profit_deviating": deviating,
        "gain": deviating - honest,
        "gain_per_member": (deviating - honest) / len(names) if names else math.nan,
        "others_profit_change": float(np.mean(changes)) if changes else math.nan,
        "tasks_outcome_changed": sum(1 for t in a if t in b and a[t] != b[t]),
        "task_success_base": _metric(base, "task_success_rate"),
        "task_success_deviant": _metric(dev, "task_success_rate"),
        "wrong_outcome_base": _metric(base, "wrong_outcome_rate"),
        "wrong_outcome_deviant": _metric(dev, "wrong_outcome_rate"),
        "initiator_profit_base": net_profit(base, initiators),
        "initiator_profit_deviant": net_profit(dev, initiators),
        "model_accuracy_base": model_accuracy(base),
        "model_accuracy_deviant": model_accuracy(dev),
    }


def pairs_table(pairs: Iterable[Pair], parameters: Sequence[str] = ()) -> pd.DataFrame:
    """One row per run pair (see ``pair_row``), in the order given; ``parameters`` are the
    grid's key paths, one column each in front."""
    rows = [pair_row(p) for p in pairs]
    return pd.DataFrame(rows, columns=[*parameters, *_COLUMNS])


_COLUMNS = (
    "role",
    "kind",
    "coalition",
    "seed",
    "base_run",
    "deviant_run",
    "deviators",
    "base_behaviour",
    "members",
    "profit_honest",
    "profit_deviating",
    "gain",
    "gain_per_member",
    "others_profit_change",
    "tasks_outcome_changed",
    "task_success_base",
    "task_success_deviant",
    "wrong_outcome_base",
    "wrong_outcome_deviant",
    "initiator_profit_base",
    "initiator_profit_deviant",
    "model_accuracy_base",
    "model_accuracy_deviant",
)


# ---------------------------------------------------------------- verdicts


def paired_ci(
    differences: Sequence[float] | np.ndarray, level: float = 0.95
) -> tuple[int, float, float, float]:
    """(n, mean, ci_low, ci_high): Student t over the finite paired differences.

    Unlike ``analysis.stats.mean_ci``, equal differences give a zero-width interval, not
    none: with common random numbers a deviation that changes nothing random gains exactly
    the same on every seed, and that gain is known, not uncertain.
    """
    x = np.asarray(differences, dtype=float)
    x = x[np.isfinite(x)]
    n = len(x)
    if n == 0:
        return 0, math.nan, math.nan, math.nan
    mean = float(x.mean())
    if n == 1:
        return 1, mean, math.nan, math.nan
    from scipy import stats

    half = float(stats.t.ppf(0.5 + level / 2, n - 1)) * float(x.std(ddof=1)) / math.sqrt(n)
    return n, mean, mean - half, mean + half


def verdict(low: float, high: float) -> str:
    """``profitable`` if the interval is above 0, ``unprofitable`` if below, else inconclusive."""
    if math.isfinite(low) and low > 0:
        return "profitable"
    if math.isfinite(high) and high < 0:
        return "unprofitable"
    return "inconclusive"


def _mean(values: pd.Series) -> float | None:
    x = values.to_numpy(dtype=float)
    x = x[np.isfinite(x)]
    return float(x.mean()) if len(x) else None


def verdicts(
    table: pd.DataFrame, parameters: Sequence[str] = (), level: float = 0.95
) -> list[dict[str, Any]]:
    """Per (grid point, role, kind, coalition): the gain's mean and interval, the verdict and
    the effects on others, in the table's order."""
    out = []
    keys = [*parameters, *KEYS]
    if table.empty:
        return []
    for group, rows in table.groupby(keys, sort=False):
        *point, role, kind, size = group
        n, mean, low, high = paired_ci(rows["gain"].to_numpy(dtype=float), level)
        per = paired_ci(rows["gain_per_member"].to_numpy(dtype=float), level)
        note = f"only {n} seed(s): the interval rests on few samples" if n < SMALL_N else ""
        out.append(
            {
                "point": {k: _plain(v) for k, v in zip(parameters, point, strict=True)},
                "role": role,
                "kind": kind,
                "coalition": int(str(size)),
                "n": n,
                "method": METHOD,
                "level": level,
                "verdict": verdict(low, high),
                "note": note,
                "profit_honest": _mean(rows["profit_honest"]),
                "profit_deviating": _mean(rows["profit_deviating"]),
                "gain": _finite(mean),
                "ci_low": _finite(low),
                "ci_high": _finite(high),
                "gain_per_member": _finite(per[1]),
                "gain_per_member_ci": [_finite(per[2]), _finite(per[3])],
                "effects": {
                    "others_profit_change": _mean(rows["others_profit_change"]),
                    "tasks_outcome_changed": _mean(rows["tasks_outcome_changed"]),
                    "task_success": [
                        _mean(rows["task_success_base"]),
                        _mean(rows["task_success_deviant"]),
                    ],
                    "wrong_outcome_rate": [
                        _mean(rows["wrong_outcome_base"]),
                        _mean(rows["wrong_outcome_deviant"]),
                    ],
                    "initiator_profit": [
                        _mean(rows["initiator_profit_base"]),
                        _mean(rows["initiator_profit_deviant"]),
                    ],
                    "model_accuracy": [
                        _mean(rows["model_accuracy_base"]),
                        _mean(rows["model_accuracy_deviant"]),
                    ],
                },
            }
        )
    return out


def _finite(x: float) -> float | None:
    return x if math.isfinite(x) else None


def _plain(v: Any) -> Any:
    return v.item() if isinstance(v, np.generic) else v


# ---------------------------------------------------------------- the honesty region


def honesty_cost(bases: Sequence[Mapping[str, Any]]) -> float | None:
    """What the initiators pay per accepted task in the honest base runs: the mean over seeds
    of ``initiator_cost_per_accepted_task`` (``analysis.metrics``), in ether; None if no
    base run accepted a task."""
    costs = [
        float(c)
        for s in bases
        if isinstance(c := s.get("initiator_cost_per_accepted_task"), (int, float))
        and math.isfinite(c)
    ]
    return float(np.mean(costs)) / ETHER if costs else None


def region_row(
    values: Mapping[str, Any],
    rows: Sequence[Mapping[str, Any]],
    not_applicable: Sequence[Mapping[str, Any]],
    cost: float | None,
) -> dict[str, Any]:
    """One grid point of the honesty region: which tested deviations pay, which are unclear.

    ``honest`` is True when no tested deviation is profitable; ``settled`` when moreover
    none is inconclusive.
    """
    by: dict[str, list[str]] = {v: [] for v in VERDICTS}
    for r in rows:
        by[r["verdict"]].append(_label(r))
    return {
        "point": dict(values),
        **by,
        "not_applicable": [f"{n['role']}/{n['kind']}" for n in not_applicable],
        "honest": not by["profitable"],
        "settled": not by["profitable"] and not by["inconclusive"],
        "cost_of_honesty": cost,
    }


def region_png(region: Sequence[Mapping[str, Any]], axes: Sequence[str], n: int) -> bytes:
    """The grid coloured by the region: green where no tested deviation pays (hatched where
    one is inconclusive), red where one does; each cell shows the cost of honesty.

    ``axes`` names one key per grid axis (a zipped group's first key): the last is x, the one
    before it y."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch, Rectangle

    x_key = axes[-1] if axes else ""
    y_key = axes[-2] if len(axes) > 1 else ""
    xs = _levels(region, x_key)
    ys = _levels(region, y_key)
    fig = Figure(figsize=(max(7.0, 3.5 + 1.3 * len(xs)), 2.2 + 0.9 * len(ys)), layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    for cell in region:
        point = cell["point"]
        x = xs.index(point.get(x_key)) if x_key else 0
        y = ys.index(point.get(y_key)) if y_key else 0
        colour = COLOURS["unprofitable"] if cell["honest"] else COLOURS["profitable"]
        hatch = "//" if cell["honest"] and not cell["settled"] else None
        ax.add_patch(Rectangle((x - 0.5, y - 0.5), 1, 1, facecolor=colour, alpha=0.55,
                               hatch=hatch, edgecolor="white"))  # fmt: skip
        cost = cell["cost_of_honesty"]
        text = "–" if cost is None else f"{cost:.2f}"
        ax.text(x, y, text, ha="center", va="center", fontsize=8)
    ax.set_xlim(-0.5, len(xs) - 0.5)
    ax.set_ylim(-0.5, len(ys) - 0.5)
    ax.set_xticks(range(len(xs)), [str(v) for v in xs])
    ax.set_yticks(range(len(ys)), [str(v) for v in ys])
    ax.set_xlabel(x_key)
    ax.set_ylabel(y_key)
    few = f"; fewer than {SMALL_N} seeds" if n < SMALL_N else ""
    ax.set_title(
        "Honesty region: no tested deviation profitable (green; hatched: inconclusive)\n"
        f"95 % CI, t over paired differences, n = {n}{few}\n"
        "cells: initiator's cost per accepted task (ether)",
        fontsize=8,
    )
    ax.legend(
        handles=[
            Patch(color=COLOURS["unprofitable"], alpha=0.55, label="honest is a best response"),
            Patch(facecolor=COLOURS["unprofitable"], alpha=0.55, hatch="//", label="inconclusive"),
            Patch(color=COLOURS["profitable"], alpha=0.55, label="a deviation pays"),
        ],
        fontsize=7,
        loc="upper left",
        bbox_to_anchor=(1.0, 1.0),
    )
    png = io.BytesIO()
    fig.savefig(png, format="png", dpi=100)
    return png.getvalue()


def _levels(region: Sequence[Mapping[str, Any]], key: str) -> list[Any]:
    if not key:
        return [None]
    seen: list[Any] = []
    for cell in region:
        v = cell["point"].get(key)
        if v not in seen:
            seen.append(v)
    return seen


# ---------------------------------------------------------------- chart and page


def _label(row: Mapping[str, Any], with_point: bool = False) -> str:
    size = int(row["coalition"])
    label = f"{row['role']}/{row['kind']}" + (f" ×{size}" if size > 1 else "")
    point = row.get("point") or {}
    if with_point and point:
        label = ", ".join(f"{k}={v}" for k, v in point.items()) + ": " + label
    return label


def chart_png(rows: Sequence[Mapping[str, Any]]) -> bytes:
    """Gain with its interval per deviation, a zero line, coloured by verdict (PNG bytes)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch

    fig = Figure(figsize=(7.5, 1.2 + 0.45 * max(1, len(rows))), layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    for y, row in enumerate(rows):
        mean = row["gain"] if row["gain"] is not None else math.nan
        low = row["ci_low"] if row["ci_low"] is not None else mean
        high = row["ci_high"] if row["ci_high"] is not None else mean
        colour = COLOURS[row["verdict"]]
        ax.errorbar(
            [mean], [y], xerr=[[mean - low], [high - mean]], fmt="o", color=colour, capsize=4
        )
    ax.axvline(0.0, color="black", linewidth=0.8)
    ax.set_yticks(range(len(rows)), [_label(r) for r in rows])
    ax.invert_yaxis()
    ax.set_xlabel("deviators' net-profit gain, ether (deviating − honest)")
    ns = sorted({int(r["n"]) for r in rows}) or [0]
    few = f"\nfewer than {SMALL_N} seeds: intervals rest on few samples" if ns[0] < SMALL_N else ""
    ax.set_title(
        f"Gain per deviation, 95 % CI: t over paired differences, n = {'/'.join(map(str, ns))}"
        + few,
        fontsize=9,
    )
    ax.legend(handles=[Patch(color=COLOURS[v], label=v) for v in VERDICTS], fontsize=8, loc="best")
    ax.grid(alpha=0.3, axis="x")
    png = io.BytesIO()
    fig.savefig(png, format="png", dpi=100)
    return png.getvalue()


def page_html(
    title: str,
    rows: Sequence[Mapping[str, Any]],
    not_applicable: Sequence[Mapping[str, str]],
    figures: Sequence[str] = ("gain.png",),
    region: Sequence[Mapping[str, Any]] = (),
) -> str:
    """The deviations page: the figures, the method and n, the honesty region (a sweep's
    grid), the verdicts, and what did not apply."""

    def num(x: Any) -> str:
        return "–" if x is None else f"{x:+.4f}"

    lines = [
        "<!doctype html><meta charset='utf-8'>",
        f"<title>{html.escape(title)}</title>",
        "<style>body{font-family:sans-serif;max-width:60em;margin:2em auto}"
        "td,th{padding:.2em .6em;text-align:right}td:first-child{text-align:left}</style>",
        f"<h1>{html.escape(title)}</h1>",
        f"<p>Method: {html.escape(METHOD)}; 95 % confidence level; verdict "
        "<i>profitable</i> if the interval lies above 0, <i>unprofitable</i> if below, else "
        "<i>inconclusive</i>. Profit: each agent's net profit from its run summary.</p>",
        *(f"<p><img src='{html.escape(f)}' alt='{html.escape(f)}'></p>" for f in figures),
    ]
    if region:
        lines.append(
            "<h2>Honesty region</h2><table><tr><th>point</th><th>honest</th>"
            "<th>profitable</th><th>inconclusive</th><th>cost of honesty</th></tr>"
        )
        for cell in region:
            point = ", ".join(f"{k}={v}" for k, v in cell["point"].items())
            cost = cell["cost_of_honesty"]
            lines.append(
                f"<tr><td>{html.escape(point)}</td><td>{'yes' if cell['honest'] else 'no'}</td>"
                f"<td>{html.escape(', '.join(cell['profitable']))}</td>"
                f"<td>{html.escape(', '.join(cell['inconclusive']))}</td>"
                f"<td>{'–' if cost is None else f'{cost:.4f}'}</td></tr>"
            )
        lines.append("</table>")
    lines += [
        "<h2>Deviations</h2>",
        "<table><tr><th>deviation</th><th>n</th><th>honest</th><th>deviating</th>"
        "<th>gain</th><th>95 % CI</th><th>verdict</th><th>note</th></tr>",
    ]
    for r in rows:
        lines.append(
            f"<tr><td>{html.escape(_label(r, True))}</td><td>{r['n']}</td>"
            f"<td>{num(r['profit_honest'])}</td><td>{num(r['profit_deviating'])}</td>"
            f"<td>{num(r['gain'])}</td><td>[{num(r['ci_low'])}, {num(r['ci_high'])}]</td>"
            f"<td style='color:{COLOURS[r['verdict']]}'>{r['verdict']}</td>"
            f"<td>{html.escape(r['note'])}</td></tr>"
        )
    lines.append("</table>")
    if not_applicable:
        lines.append("<h2>Not applicable</h2><ul>")
        lines += [
            f"<li>{html.escape(_where(n))}{html.escape(n['role'])}/{html.escape(n['kind'])}: "
            f"{html.escape(n['reason'])}</li>"
            for n in not_applicable
        ]
        lines.append("</ul>")
    return "\n".join(lines) + "\n"


def _where(n: Mapping[str, str]) -> str:
    point = n.get("point", "")
    return f"{point}: " if point and point != "base scenario" else ""
