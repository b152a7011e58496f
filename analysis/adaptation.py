"""Adaptive runs: strategy shares over simulated time, per run and over seeds.

Pure functions of event tables (no simulator import), like ``analysis.metrics``:

- ``revisions(events)``: the ``strategy_revised`` rows parsed (time, agent, role, from, to,
  rule, own and compared profit per task).
- ``shares(events, kinds)``: each role's share of each kind after every change — an agent
  counts from its ``funded`` row (with the kind it was dealt) and moves at each revision; the
  share is over every agent of the role that has joined (offline agents keep their kind).
- ``adaptation_summary(events, kinds)``: what ``summary.json`` carries for a run with
  ``[adaptation]``: ``strategy_share.<role>.<kind>`` (final shares), ``first_majority_s.
  <role>.<kind>`` (the simulated time at which the kind first held more than half of the
  role; 0 when it did from the start, null when never) and ``strategy_revisions.<role>``.
- ``share_bands(runs, grid, level)``: shares of several runs sampled on one time grid, with
  the mean and its confidence band per (role, kind, time).
- ``draw_shares(bands, title)``: that figure as PNG bytes; ``shares_section`` and
  ``render_shares_page`` put it into HTML (the sweep report's section and the page
  ``baasim report`` writes for a directory of runs); ``sim.cli.report`` writes the files.
"""

from __future__ import annotations

import html
import io
import json
import math
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from analysis.stats import mean_ci

_DETAIL = re.compile(
    r"^(?P<old>\w+) -> (?P<new>\w+); (?P<rule>\w+); own (?P<own>\S+) vs (?P<other>\S+)"
)
SHARE_FAMILY = "strategy_share"


def revisions(events: pd.DataFrame) -> pd.DataFrame:
    """One row per ``strategy_revised`` event: time, agent, role, from, to, rule, profits."""
    rows = events[events["kind"] == "strategy_revised"]
    out = []
    for r in rows.to_dict("records"):
        m = _DETAIL.match(str(r["detail"]))
        if m is None:
            continue
        out.append(
            {
                "time": float(r["time"]),
                "agent": r["agent"],
                "role": r["role"],
                "from": m["old"],
                "to": m["new"],
                "rule": m["rule"],
                "own": _float(m["own"]),
                "other": _float(m["other"]),
                "peer": r["target"],
            }
        )
    columns = ["time", "agent", "role", "from", "to", "rule", "own", "other", "peer"]
    return pd.DataFrame(out, columns=columns)


def _float(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        return math.nan


def shares(events: pd.DataFrame, kinds: Mapping[str, Sequence[str]]) -> pd.DataFrame:
    """Columns time, role, kind, share: each role's shares after every change (step function).

    ``kinds`` names the roles and the kinds to report (a kind nobody plays has share 0).
    """
    holding: dict[str, str] = {}
    role_of: dict[str, str] = {}
    out: list[tuple[float, str, str, float]] = []
    changes = events[events["kind"].isin(("funded", "strategy_revised"))]
    for r in changes.to_dict("records"):
        role, agent = str(r["role"]), str(r["agent"])
        if role not in kinds:
            continue
        if r["kind"] == "funded":
            if agent in holding:
                continue
            holding[agent] = str(r["behaviour"])
            role_of[agent] = role
        else:
            m = _DETAIL.match(str(r["detail"]))
            holding[agent] = m["new"] if m else str(r["behaviour"])
        members = [a for a, ro in role_of.items() if ro == role]
        for kind in kinds[role]:
            held = sum(1 for a in members if holding[a] == kind)
            out.append((float(r["time"]), role, kind, held / len(members)))
    frame = pd.DataFrame(out, columns=["time", "role", "kind", "share"])
    # several changes at one instant: the last state of that instant counts
    return frame.drop_duplicates(["time", "role", "kind"], keep="last").reset_index(drop=True)


def final_shares(table: pd.DataFrame) -> dict[str, dict[str, float]]:
    """Each role's shares at the end of a ``shares`` table."""
    out: dict[str, dict[str, float]] = {}
    for (role, kind), g in table.groupby(["role", "kind"], sort=False):
        out.setdefault(str(role), {})[str(kind)] = float(g["share"].iloc[-1])
    return out


def first_majority(table: pd.DataFrame) -> dict[str, dict[str, float]]:
    """Per role and kind: the first time its share exceeded one half (NaN: never)."""
    out: dict[str, dict[str, float]] = {}
    for (role, kind), g in table.groupby(["role", "kind"], sort=False):
        above = g[g["share"] > 0.5]
        out.setdefault(str(role), {})[str(kind)] = (
            float(above["time"].iloc[0]) if len(above) else math.nan
        )
    return out


def adaptation_summary(events: pd.DataFrame, kinds: Mapping[str, Sequence[str]]) -> dict[str, Any]:
    """The ``summary.json`` entries of a run whose roles in ``kinds`` adapt."""
    table = shares(events, kinds)
    revised = revisions(events)
    return {
        SHARE_FAMILY: final_shares(table),
        "first_majority_s": first_majority(table),
        "strategy_revisions": {role: int((revised["role"] == role).sum()) for role in kinds},
    }


# ---------------------------------------------------------------- over seeds


def sample(table: pd.DataFrame, grid: np.ndarray) -> pd.DataFrame:
    """A ``shares`` table read at the times of ``grid`` (the value holding at each time)."""
    out = []
    for (role, kind), g in table.groupby(["role", "kind"], sort=False):
        times = g["time"].to_numpy()
        values = g["share"].to_numpy()
        index = np.searchsorted(times, grid, side="right") - 1
        got = np.where(index >= 0, values[np.clip(index, 0, None)], np.nan)
        out.append(pd.DataFrame({"time": grid, "role": role, "kind": kind, "share": got}))
    if not out:
        return pd.DataFrame(columns=["time", "role", "kind", "share"])
    return pd.concat(out, ignore_index=True)


def share_bands(
    runs: Sequence[pd.DataFrame], points: int = 60, level: float = 0.95
) -> pd.DataFrame:
    """Mean share and its ``level`` band over runs (each a ``shares`` table), on one grid.

    The grid spans 0 to the latest change of any run in ``points`` steps; a run's share holds
    after its last change. Columns time, role, kind, n, mean, low, high (low/high NaN where
    the runs agree or there is one run: no interval).
    """
    runs = [r for r in runs if not r.empty]
    if not runs:
        return pd.DataFrame(columns=["time", "role", "kind", "n", "mean", "low", "high"])
    end = max(float(r["time"].max()) for r in runs)
    grid = np.linspace(0.0, end if end > 0 else 1.0, points)
    sampled = pd.concat([sample(r, grid).assign(run=i) for i, r in enumerate(runs)])
    rows = []
    for (role, kind, t), g in sampled.groupby(["role", "kind", "time"], sort=False):
        values = g["share"].to_numpy(dtype=float)
        n, mean, _std, low, high = mean_ci(values, level, "t", bounds=(0.0, 1.0))
        rows.append((t, role, kind, n, mean, low, high))
    return pd.DataFrame(rows, columns=["time", "role", "kind", "n", "mean", "low", "high"])


def draw_shares(bands: pd.DataFrame, title: str, level: float = 0.95) -> bytes:
    """Strategy shares over simulated time (hours), one panel per role, as PNG bytes."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    roles = list(dict.fromkeys(bands["role"]))
    fig = Figure(figsize=(6.0 * max(len(roles), 1), 4.0), layout="constrained")
    FigureCanvasAgg(fig)
    axes = np.atleast_1d(fig.subplots(1, max(len(roles), 1), squeeze=False)).ravel()
    for ax, role in zip(axes, roles, strict=False):
        data = bands[bands["role"] == role]
        for kind, g in data.groupby("kind", sort=False):
            hours = g["time"].to_numpy(dtype=float) / 3600.0
            (line,) = ax.plot(hours, g["mean"].to_numpy(dtype=float), label=str(kind))
            low = g["low"].to_numpy(dtype=float)
            high = g["high"].to_numpy(dtype=float)
            ax.fill_between(hours, low, high, color=line.get_color(), alpha=0.2, linewidth=0)
        ax.set_ylim(-0.02, 1.02)
        ax.set_xlabel("simulated time (h)")
        ax.set_ylabel(f"share of {role}s")
        ax.set_title(role, fontsize=9)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    n = int(bands["n"].max()) if len(bands) else 0
    fig.suptitle(title, fontsize=11)
    fig.supxlabel(
        f"mean over {n} run(s); band: {level:.0%} Student's t, in [0, 1]; none where runs agree",
        fontsize=8,
    )
    png = io.BytesIO()
    fig.savefig(png, format="png", dpi=100)
    return png.getvalue()


# ---------------------------------------------------------------- reading run directories


def adaptive_kinds(summary: Mapping[str, Any]) -> dict[str, list[str]]:
    """The roles and kinds of an adaptive run, from its summary (empty: not adaptive)."""
    found = summary.get(SHARE_FAMILY) or {}
    return {str(role): list(kinds) for role, kinds in found.items()}


def run_dirs(root: str | Path) -> list[Path]:
    """The run directories under ``root`` (itself, ``seed-N/`` or a sweep's ``runs/*/``)."""
    root = Path(root)
    if (root / "summary.json").is_file():
        return [root]
    found = sorted(p.parent for p in root.glob("seed-*/summary.json"))
    found += sorted(p.parent for p in root.glob("runs/*/summary.json"))
    return found


def read_shares(run: Path) -> tuple[dict[str, list[str]], pd.DataFrame] | None:
    """(kinds, shares table) of one run directory; None when the run does not adapt."""
    summary = json.loads((run / "summary.json").read_text())
    kinds = adaptive_kinds(summary)
    if not kinds:
        return None
    columns = ["time", "kind", "agent", "role", "behaviour", "detail"]
    events = pd.read_parquet(run / "events.parquet", columns=columns)
    return kinds, shares(events, kinds)


def shares_section(
    groups: Mapping[str, Sequence[Path]], level: float = 0.95
) -> tuple[str, dict[str, bytes]]:
    """HTML (a section) and PNG files of strategy shares: one figure per group of runs.

    ``groups`` maps a label (a sweep point, or "runs") to its run directories. Empty HTML
    when no run adapts.
    """
    files: dict[str, bytes] = {}
    items = []
    for i, (name, dirs) in enumerate(groups.items()):
        tables = [t for d in dirs if (got := read_shares(d)) is not None for t in [got[1]]]
        if not tables:
            continue
        bands = share_bands(tables, level=level)
        file_name = f"strategy_shares_{i}.png"
        files[file_name] = draw_shares(bands, f"Strategy shares: {name}", level)
        finals = _final_table(tables, level)
        items.append(
            f'<figure><img src="{file_name}" alt="strategy shares {html.escape(name)}">'
            f"<figcaption>Strategy shares over simulated time, {html.escape(name)}: mean "
            f"over {len(tables)} run(s) with its {level:.0%} band.</figcaption></figure>" + finals
        )
    if not items:
        return "", {}
    head = (
        "<h2>Strategy shares (adaptive agents)</h2><p>Share of each role's agents playing each "
        "kind over simulated time (every agent that has joined counts; an agent moves at each "
        "<code>strategy_revised</code> event).</p>"
    )
    return head + "\n".join(items), files


def _final_table(tables: Sequence[pd.DataFrame], level: float) -> str:
    finals: dict[tuple[str, str], list[float]] = {}
    for t in tables:
        for role, by_kind in final_shares(t).items():
            for kind, v in by_kind.items():
                finals.setdefault((role, kind), []).append(v)
    rows = []
    for (role, kind), values in finals.items():
        n, mean, _std, low, high = mean_ci(values, level, "t", bounds=(0.0, 1.0))
        band = "" if math.isnan(low) else f" [{low:.3f}, {high:.3f}]"
        rows.append(f"<tr><td>{role}</td><td>{kind}</td><td>{mean:.3f}{band}</td><td>{n}</td></tr>")
    return (
        "<table><tr><th>role</th><th>kind</th><th>final share, mean [CI]</th><th>runs</th></tr>"
        + "".join(rows)
        + "</table>"
    )


def render_shares_page(root: str | Path, level: float = 0.95) -> dict[str, bytes] | None:
    """``index.html`` and figures for a directory of runs that adapt; None if none does."""
    dirs = run_dirs(root)
    section, files = shares_section({Path(root).name or "runs": dirs}, level)
    if not section:
        return None
    page = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>baasim: strategy '
        f"shares</title></head><body><h1>Runs: {html.escape(str(root))}</h1>{section}"
        "</body></html>"
    )
    files["index.html"] = page.encode()
    return files


def sweep_shares(
    root: str | Path, sweep: Mapping[str, Any], level: float = 0.95
) -> tuple[str, dict[str, bytes]]:
    """The strategy-share section of a sweep's report: one figure per point that adapts."""
    root = Path(root)
    labels = {
        int(p["point"]): ", ".join(f"{k}={v}" for k, v in p["values"].items()) or "base"
        for p in sweep["points"]
    }
    groups: dict[str, list[Path]] = {}
    for run in sweep["runs"]:
        d = root / "runs" / str(run["run_id"])
        if (d / "summary.json").is_file():
            groups.setdefault(labels.get(int(run["point"]), str(run["point"])), []).append(d)
    return shares_section(groups, level)


def draw_kind_across(
    bands: Mapping[str, pd.DataFrame], role: str, kind: str, title: str, level: float = 0.95
) -> bytes:
    """One kind's share over simulated time, one line (and band) per group, as PNG bytes.

    ``bands`` maps a label (a sweep point) to its ``share_bands`` table.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7.0, 4.2), layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    runs = []
    for label, table in bands.items():
        g = table[(table["role"] == role) & (table["kind"] == kind)]
        hours = g["time"].to_numpy(dtype=float) / 3600.0
        (line,) = ax.plot(hours, g["mean"].to_numpy(dtype=float), label=label)
        ax.fill_between(
            hours,
            g["low"].to_numpy(dtype=float),
            g["high"].to_numpy(dtype=float),
            color=line.get_color(),
            alpha=0.2,
            linewidth=0,
        )
        runs.append(str(int(g["n"].max())) if len(g) else "0")
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel("simulated time (h)")
    ax.set_ylabel(f"share of {role}s playing {kind}")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.suptitle(title, fontsize=11)
    fig.supxlabel(
        f"mean over {'/'.join(runs)} runs per line; band: {level:.0%} Student's t, in [0, 1]",
        fontsize=8,
    )
    png = io.BytesIO()
    fig.savefig(png, format="png", dpi=100)
    return png.getvalue()
