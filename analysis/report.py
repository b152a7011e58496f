"""The static HTML report of a sweep: figures, metrics per point with CIs, and the definition.

``render_report(DIR, OUT)`` reads the sweep directory (``sweep.json`` and the run folders, through
``analysis.runs``), computes per-point statistics and paired-by-seed contrasts between
points (``analysis.stats``), draws the figures ``analysis.plots.choose_figures`` picks, and
returns ``index.html`` with the PNGs it shows, ``points.csv`` (the statistics as a table)
and ``contrasts.csv`` (the paired differences) as a ``Report``; ``sim.sweep.tables`` writes
it to ``DIR/report/``. Each metric's meaning, unit and range come from
``analysis.metrics.METRICS`` and are listed on the page. The page needs no server and no
network: open it from disk. A small inline script marks any figure that fails to load and
counts those that did (``<body data-images-loaded>``), which is what the rendering test reads.
"""

from __future__ import annotations

import datetime as dt
import html
import math
import numbers
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from analysis.adaptation import sweep_shares
from analysis.metrics import metric_info
from analysis.plots import FigureSpec, band_note, choose_figures, draw, label, unit
from analysis.runs import FINISHED, axes_of, metric_columns, read_sweep, runs_table
from analysis.stats import SMALL_N, paired_contrasts, point_counts, point_stats

HEADLINE = (
    "task_success_rate",
    "initiator_accuracy",
    "oracle_fused_accuracy",
    "wrong_outcome_rate",
    "payment_fairness",
    "honest_payment_fairness",
    "free_rider_share",
    "payout_time_first.contributor",
    "payout_time_last.contributor",
    "unclaimed_credit_share.contributor",
    "gas_per_task",
    "transactions",
)
CONTRASTED = 6
"""Metrics per contrast table on the page (one table per this many)."""

PAGE_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 80em; padding: 0 1em;
       color: #222; }
h1 { margin-bottom: 0.2em; } h2 { margin-top: 1.6em; border-bottom: 1px solid #ddd; }
.meta { color: #555; }
table { border-collapse: collapse; font-size: 0.85em; margin: 0.5em 0; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.5em; text-align: right; }
th { background: #f3f3f3; } td.text, th.text { text-align: left; }
figure { display: inline-block; margin: 0.5em; vertical-align: top; }
figure img { max-width: 100%; border: 1px solid #eee; }
figcaption { font-size: 0.85em; color: #444; max-width: 52em; }
pre { background: #f7f7f7; padding: 0.8em; overflow-x: auto; font-size: 0.85em; }
.note { background: #fff6d6; padding: 0.4em 0.8em; border-left: 4px solid #e0b400; }
.missing { color: #b00; font-weight: bold; }
"""
"""The CSS of every baasim page (sweep, run, tune and sensitivity reports); a page appends
its own rules after it, which win where they differ."""

IMAGE_CHECK_SCRIPT = """
window.addEventListener("load", function () {
  var images = document.querySelectorAll("figure img"), loaded = 0;
  images.forEach(function (img) {
    if (img.complete && img.naturalWidth > 0) { loaded += 1; return; }
    var note = document.createElement("p");
    note.className = "missing";
    note.textContent = "figure missing: " + img.getAttribute("src");
    img.parentNode.insertBefore(note, img);
  });
  document.body.dataset.imagesLoaded = loaded + "/" + images.length;
});
"""
"""Marks each figure whose image did not load and counts the loaded ones in
``body[data-images-loaded]`` (what the headless-browser tests read)."""


@dataclass(frozen=True)
class Report:
    """A rendered report: file name (relative to the report directory) -> content.

    ``index.html`` links to the others by these names; the caller writes them all (analysis
    only reads and renders, it never writes a file).
    """

    files: dict[str, bytes]
    index: str = "index.html"


def render_report(root: str | Path, out_dir: str | Path, level: float = 0.95) -> Report:
    """The report of the sweep in ``root``, to be written into ``out_dir``."""
    root = Path(root)
    out_dir = Path(out_dir)
    sweep = read_sweep(root)
    params: list[str] = list(sweep["parameters"])
    runs = runs_table(root)
    metrics = [m for m in metric_columns(runs, params) if runs[m].notna().any()]
    stats = point_stats(runs, params, metrics, level)
    contrasts = paired_contrasts(runs, params, _headline(metrics), axes=axes_of(sweep), level=level)
    files = {
        "points.csv": stats.to_csv(index=False).encode(),
        "contrasts.csv": contrasts.to_csv(index=False).encode(),
    }
    figures = []
    for spec in choose_figures(axes_of(sweep), metrics):
        if (stats["metric"].isin(spec.metrics) & (stats["n"] > 0)).any():
            name = f"{spec.name}.png"
            files[name] = draw(spec, stats, level)
            figures.append((spec, name))
    shares_html, share_files = sweep_shares(root, sweep, level)
    files.update(share_files)
    page = _page(sweep, runs, stats, contrasts, figures, root, out_dir, level, shares_html)
    files["index.html"] = page.encode()
    return Report(files)


def _headline(metrics: Sequence[str]) -> list[str]:
    """The headline metrics present, then every net profit by behaviour."""
    present = set(metrics)
    return [m for m in HEADLINE if m in present] + [
        m for m in metrics if m.startswith("net_profit_by_behaviour.")
    ]


def _page(
    sweep: dict[str, Any],
    runs: pd.DataFrame,
    stats: pd.DataFrame,
    contrasts: pd.DataFrame,
    figures: list[tuple[FigureSpec, str]],
    root: Path,
    out_dir: Path,
    level: float,
    shares_html: str = "",
) -> str:
    params: list[str] = list(sweep["parameters"])
    name = str(sweep.get("name", root.name))
    parts = [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>baasim sweep: {_e(name)}</title><style>{PAGE_STYLE}</style></head><body>",
        f"<h1>Sweep: {_e(name)}</h1>",
    ]
    if sweep.get("description"):
        parts.append(f"<p>{_e(sweep['description'])}</p>")
    parts.append(_overview(sweep, runs, root))
    parts.append(_deviations_link(root, out_dir))
    parts.append(_figures(figures, stats, params, level))
    parts.append(shares_html)
    parts.append(_metrics(stats, params, runs, level))
    parts.append(_contrasts(contrasts, stats, params, level))
    parts.append(_definitions(list(dict.fromkeys(stats["metric"]))))
    parts.append(_failures(runs, root, out_dir))
    parts.append(_definition(sweep))
    parts.append(f"<script>{IMAGE_CHECK_SCRIPT}</script></body></html>")
    return "\n".join(parts) + "\n"


def _deviations_link(root: Path, out_dir: Path) -> str:
    """A pointer to the deviation study's page when the directory holds one."""
    page = root / "deviations" / "index.html"
    if not page.is_file():
        return ""
    rel = Path("..") if out_dir.resolve().parent == root.resolve() else root.resolve()
    href = _e(str(rel / "deviations" / "index.html"))
    return (
        '<p class="note">This directory holds a deviation study (<code>baasim deviations</code>'
        f' or a sweep with <code>[deviations]</code>): <a href="{href}">gains of each deviation'
        " with their intervals and verdicts</a>, <code>deviations.json</code>,"
        " <code>deviations.parquet</code>.</p>"
    )


def _overview(sweep: dict[str, Any], runs: pd.DataFrame, root: Path) -> str:
    status = runs["status"].value_counts()
    finished = int(status[status.index.isin(FINISHED)].sum())
    counts = ", ".join(f"{_e(str(k))}: {int(v)}" for k, v in status.items())
    when = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    return (
        f'<p class="meta">{len(sweep["points"])} point(s) × {len(sweep.get("seeds", []))} '
        f"seed(s) = {len(runs)} run(s); {finished} finished ({counts}). "
        f"Results in <code>{_e(str(root.resolve()))}</code>: <code>runs.parquet</code> "
        f"(one row per run), <code>events.parquet</code> (every event), "
        f"<code>runs/&lt;run-id&gt;/</code>. Generated {when}.</p>"
    )


def _figures(
    figures: list[tuple[FigureSpec, str]], stats: pd.DataFrame, params: list[str], level: float
) -> str:
    if not figures:
        why = "the sweep varies no parameter" if not params else "no finished run has the metrics"
        return f"<h2>Figures</h2><p>No figures: {why}.</p>"
    items = []
    for spec, file_name in figures:
        rows = stats[stats["metric"].isin(spec.metrics) & (stats["n"] > 0)]
        caption = (
            f"{_e(spec.title)}. Lines: mean over each point's finished runs; "
            f"{_e(band_note(rows, level))}."
        )
        if spec.zero_line:
            caption += (
                " Above zero a behaviour profits; where a dishonest behaviour's line lies above"
                " the honest one's, lying pays."
            )
        items.append(
            f'<figure><img src="{_e(file_name)}" alt="{_e(spec.title)}">'
            f"<figcaption>{caption}</figcaption></figure>"
        )
    return "<h2>Figures</h2>\n" + "\n".join(items)


def _metrics(stats: pd.DataFrame, params: list[str], runs: pd.DataFrame, level: float) -> str:
    if stats.empty:
        return "<h2>Metrics per point</h2><p>No finished runs yet.</p>"
    metrics = list(dict.fromkeys(stats["metric"]))
    headline = [m for m in HEADLINE if m in metrics] + [
        m for m in metrics if m.startswith("net_profit_by_behaviour.")
    ]
    counts = {
        int(r["point"]): (int(r["runs"]), int(r["timed_out"]), int(r["failed"]))
        for r in point_counts(runs, params).to_dict("records")
    }
    small = int(stats["n"].max()) < SMALL_N
    parts = [
        f"<h2>Metrics per point</h2><p>Mean [{level:.0%} CI] over finished runs (timed-out "
        "runs included and counted; failed runs excluded and counted). Intervals are "
        "clipped to each metric's range; none is shown for one run or when all runs agree "
        "(n in brackets).</p>"
    ]
    if small:
        parts.append(
            f'<p class="note">Fewer than {SMALL_N} runs per point: the intervals rest on few '
            "samples. Bounded metrics use a seeded percentile bootstrap there (Student's t "
            "assumes a symmetric, unbounded spread); it is narrower than the truth at very "
            "small n. Add seeds for firmer ones.</p>"
        )
    parts.append(_wide_table(stats, params, headline or metrics[:8], counts))
    parts.append(
        "<details><summary>All metrics (long table; also in points.csv)</summary>"
        + _long_table(stats, params)
        + "</details>"
    )
    return "\n".join(parts)


def _wide_table(
    stats: pd.DataFrame,
    params: list[str],
    metrics: Sequence[str],
    counts: dict[int, tuple[int, int, int]],
) -> str:
    head = ["point", *params, "runs", "timed out", "failed"]
    head += [label(m) + unit(m)[1] for m in metrics]
    rows = []
    for point in sorted({int(p) for p in stats["point"]}):
        group = stats[stats["point"] == point]
        by_metric = group.set_index("metric")
        first = group.iloc[0]
        cells = [str(point), *[_fmt(first[p]) for p in params]]
        total, timed_out, failed = counts[point]
        cells += [str(total), str(timed_out), str(failed)]
        for m in metrics:
            cells.append(_ci_cell(by_metric, m) if m in by_metric.index else "–")
        rows.append(cells)
    return _table(head, rows)


def _long_table(stats: pd.DataFrame, params: list[str]) -> str:
    head = ["point", *params, "metric", "n", "mean", "std", "CI low", "CI high", "method"]
    head += ["note"]
    rows = [
        [str(r["point"]), *[_fmt(r[p]) for p in params]]
        + [str(r["metric"]) + unit(str(r["metric"]))[1], str(r["n"])]
        + [_fmt(r[k] * unit(str(r["metric"]))[0]) for k in ("mean", "std", "ci_low", "ci_high")]
        + [str(r["method"]), str(r["note"])]
        for _, r in stats.iterrows()
    ]
    return _table(head, rows)


def _contrasts(
    contrasts: pd.DataFrame, stats: pd.DataFrame, params: list[str], level: float
) -> str:
    if contrasts.empty:
        return ""
    labels = _point_labels(stats, params)
    metrics = list(dict.fromkeys(contrasts["metric"]))
    tables = [
        _contrast_table(contrasts, labels, metrics[i : i + CONTRASTED])
        for i in range(0, len(metrics), CONTRASTED)
    ]
    return (
        "<h2>Paired contrasts</h2><p>Differences (to − from) between points, paired by seed: "
        "a seed gives the same data and models at every point, so pairing cancels that "
        f"noise. Mean [{level:.0%} CI] over the seeds both points finished (n in "
        "contrasts.csv with the notes: unpaired runs are counted there). Neighbours differ "
        "by one step of one axis; the baseline is the first point. An interval that "
        "excludes 0 is a difference the seeds support.</p>" + "\n".join(tables)
    )


def _contrast_table(contrasts: pd.DataFrame, labels: dict[int, str], metrics: list[str]) -> str:
    head = ["contrast", "from", "to", *[f"Δ {label(m)}{unit(m)[1]}" for m in metrics]]
    rows = []
    mine = contrasts[contrasts["metric"].isin(metrics)]
    keys = ["contrast", "axis", "from_point", "to_point"]
    for (kind, axis, a, b), g in mine.groupby(keys, sort=False):
        by_metric = g.set_index("metric")
        name = f"step in {axis}" if kind == "neighbour" else "vs baseline"
        cells = [name, labels.get(int(str(a)), str(a)), labels.get(int(str(b)), str(b))]
        cells += [_ci_cell(by_metric, m) if m in by_metric.index else "–" for m in metrics]
        rows.append(cells)
    return _table(head, rows)


def _point_labels(stats: pd.DataFrame, params: list[str]) -> dict[int, str]:
    first = stats.drop_duplicates("point")
    return {
        int(r["point"]): f"{int(r['point'])}: " + ", ".join(f"{p}={_fmt(r[p])}" for p in params)
        for _, r in first.iterrows()
    }


def _definitions(metrics: list[str]) -> str:
    rows = []
    for m in metrics:
        info = metric_info(m)
        if info is None:
            continue
        low = "−∞" if info.low is None else _fmt(info.low * info.scale)
        high = "∞" if info.high is None else _fmt(info.high * info.scale)
        shown = info.shown_unit or info.unit
        rows.append([m, info.description, shown, f"[{low}, {high}]"])
    if not rows:
        return ""
    return (
        "<details><summary>What each metric means (unit, range)</summary>"
        + _table(["metric", "meaning", "unit", "range"], rows)
        + "</details>"
    )


def _failures(runs: pd.DataFrame, root: Path, out_dir: Path) -> str:
    failed = runs[runs["status"] == "failed"]
    if failed.empty:
        return ""
    rel = Path("..") if out_dir.resolve().parent == root.resolve() else root.resolve()
    rows = [
        [
            str(r["point"]),
            str(r["seed"]),
            f'<a href="{_e(str(rel / "failed" / (r["run_id"] + ".json")))}">{_e(r["run_id"])}</a>',
            _e(str(r["error"])),
        ]
        for _, r in failed.iterrows()
    ]
    return (
        "<h2>Failed runs</h2><p>Each record holds the traceback; re-running the sweep redoes "
        "them.</p>" + _table(["point", "seed", "run", "error"], rows, escape=False)
    )


def _definition(sweep: dict[str, Any]) -> str:
    base = sweep.get("base_scenario", {})
    parts = ["<h2>Sweep definition</h2>", f"<pre>{_e(sweep.get('definition', ''))}</pre>"]
    points = [
        [str(p["point"]), _e(p.get("label", "")), _e(str(p.get("scenario_hash", ""))[:12])]
        for p in sweep["points"]
    ]
    parts.append(_table(["point", "values", "scenario hash"], points, escape=False))
    parts.append(
        f"<h2>Base scenario</h2><p><code>{_e(str(base.get('path', '')))}</code> "
        f"({_e(str(base.get('name', '')))}, hash {_e(str(base.get('hash', ''))[:12])}); "
        "the sweep's <code>[set]</code> values apply on top of it.</p>"
    )
    if base.get("text"):
        parts.append(f"<pre>{_e(base['text'])}</pre>")
    return "\n".join(parts)


def _table(head: Sequence[str], rows: Sequence[Sequence[str]], escape: bool = True) -> str:
    th = "".join(f"<th>{_e(h)}</th>" for h in head)
    body = "".join(
        "<tr>" + "".join(f"<td>{_e(c) if escape else c}</td>" for c in row) + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>"


def _ci_cell(by_metric: pd.DataFrame, metric: str) -> str:
    row = by_metric.loc[metric]
    scale = unit(metric)[0]
    mean, low, high = (row[k] * scale for k in ("mean", "ci_low", "ci_high"))
    if isinstance(mean, float) and math.isnan(mean):
        return "–"
    if isinstance(low, float) and math.isnan(low):
        return f"{_fmt(mean)} (n={row['n']}, no interval)"
    return f"{_fmt(mean)} [{_fmt(low)}, {_fmt(high)}]"


def _fmt(x: Any) -> str:
    if isinstance(x, bool) or not isinstance(x, numbers.Real):
        return str(x)
    if isinstance(x, float) and math.isnan(x):
        return "–"
    x = float(x)
    if abs(x) >= 1e4:
        return f"{x:,.0f}"
    return f"{x:.4g}"


def _e(text: str) -> str:
    return html.escape(str(text), quote=True)
