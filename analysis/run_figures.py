"""Figures of one run, drawn from ``analysis.run_tables``' views: each returns PNG bytes.

- ``timeline``: each task a lane of its phases on simulated time, with submissions, reports
  and slashes marked and a lane of block ticks; below it, agents' online sessions (a Gantt
  strip of at most ``MAX_AGENTS`` agents, sampled and counted when there are more);
- ``balances``: balances by role over time (change since the start, and the market
  contract's holdings);
- ``profit``: per behaviour, the mean per agent of each part of net profit (pay, stake lost,
  gas, compute, the rest) as stacked bars, each agent's net profit as a dot;
- ``claims``: per task, each committee member's reported fused accuracy beside the honest
  value, coloured by behaviour, with the task's MAFR;
- ``pay_shares``: each contributor's share of its task's pay against its share of the true
  contributions (the diagonal is fair pay);
- ``gas``: gas by contract function; ``blocks``: transactions per block over time.

matplotlib's object API on an Agg canvas (no pyplot, no global state), as ``analysis.plots``.
"""

from __future__ import annotations

import io
import math
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from analysis.run_tables import PROFIT_PARTS, sample_agents

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

MAX_AGENTS = 60
"""Agents drawn in the sessions strip; more are sampled (those whose presence changed first)."""
INSTANTS = {"draw": "committee draw", "finalize": "finalize"}
"""Phases that are one transaction, drawn as strokes (with their legend names)."""
MAX_LANE_TASKS = 80
"""Task lanes drawn in the timeline; more are sampled evenly."""

PHASE_COLOURS = {
    "open": "#d9d9d9",
    "submissions": "#6baed6",
    "draw": "#000000",
    "commit": "#fd8d3c",
    "reveal": "#74c476",
    "finalize": "#6a51a3",
    "payouts": "#fdd835",
}
PART_COLOURS = {
    "pay": "#2ca02c",
    "stake_lost": "#d62728",
    "gas": "#7f7f7f",
    "compute": "#ff7f0e",
    "other": "#9467bd",
}
PART_LABELS = {
    "pay": "pay",
    "stake_lost": "stake lost",
    "gas": "gas",
    "compute": "compute (and capital)",
    "other": "escrow spent / other",
}
_PALETTE = (
    "#1f77b4",
    "#d62728",
    "#ff7f0e",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#17becf",
    "#bcbd22",
    "#2ca02c",
    "#7f7f7f",
)


def behaviour_colours(behaviours: Iterable[Any]) -> dict[str, str]:
    """A colour per behaviour: honest always blue, the others in name order."""
    names = sorted({str(b) for b in behaviours} - {"honest"})
    out = {"honest": _PALETTE[0]}
    for i, name in enumerate(names):
        out[name] = _PALETTE[1 + i % (len(_PALETTE) - 1)]
    return out


def time_unit(seconds: float) -> tuple[float, str]:
    """Divisor and name of the unit that reads best for a span of ``seconds``."""
    if seconds >= 2 * 86400:
        return 86400.0, "days"
    if seconds >= 3 * 3600:
        return 3600.0, "hours"
    if seconds >= 600:
        return 60.0, "minutes"
    return 1.0, "seconds"


def _figure(width: float, height: float) -> Figure:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _png(fig: Figure) -> bytes:
    out = io.BytesIO()
    fig.savefig(out, format="png", dpi=100)
    return out.getvalue()


# ---------------------------------------------------------------- timeline


def timeline(
    phases: pd.DataFrame,
    marks: pd.DataFrame,
    blocks: pd.Series,
    sessions: pd.DataFrame,
    end: float,
) -> bytes | None:
    """Task lanes (``task_phases``), event marks (rows with time, task and kind:
    model_submitted, reported, slashed), block ticks (``block_times``) and, below, online
    sessions (``sessions``). None when the run created no task and no agent had a session."""
    if phases.empty and sessions.empty:
        return None
    div, unit = time_unit(max(end, 1.0))
    tasks = _lane_tasks(phases)
    agents = sample_agents(sessions, MAX_AGENTS) if not sessions.empty else []
    lanes = len(tasks) + 1
    top = 1.2 + 0.32 * lanes
    bottom = 0.9 + 0.11 * len(agents) if agents else 0.0
    fig = _figure(12.0, top + bottom)
    if agents:
        ax, ax2 = fig.subplots(2, 1, sharex=True, height_ratios=[top, bottom])
    else:
        ax, ax2 = fig.subplots(1, 1), None
    _task_lanes(ax, phases, marks, blocks, tasks, div)
    n_tasks = phases["task"].nunique()
    shown = "" if len(tasks) == n_tasks else f" ({len(tasks)} of {n_tasks} tasks shown)"
    ax.set_title(f"Tasks: phases, submissions, reports and slashes{shown}", fontsize=10)
    if ax2 is not None:
        _session_strip(ax2, sessions, agents, div)
        ax2.set_xlabel(f"simulated time ({unit})")
    else:
        ax.set_xlabel(f"simulated time ({unit})")
    ax.set_xlim(0, end / div * 1.01 if end > 0 else 1)
    return _png(fig)


def _lane_tasks(phases: pd.DataFrame) -> list[int]:
    tasks = sorted({int(t) for t in phases["task"]})
    if len(tasks) <= MAX_LANE_TASKS:
        return tasks
    picks = np.linspace(0, len(tasks) - 1, MAX_LANE_TASKS).round().astype(int)
    return [tasks[i] for i in sorted(set(picks.tolist()))]


def _task_lanes(
    ax: Axes,
    phases: pd.DataFrame,
    marks: pd.DataFrame,
    blocks: pd.Series,
    tasks: list[int],
    div: float,
) -> None:
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    lane = {t: i + 1 for i, t in enumerate(tasks)}
    shown = phases[phases["task"].isin(list(lane))]
    drawn = set(shown["phase"].astype(str))
    # one call per phase (not per bar): a thousand-task run draws as fast as a small one
    for phase, g in shown.groupby("phase", sort=False):
        y = np.array([lane[int(t)] for t in g["task"]], dtype=float)
        start = g["start"].to_numpy(float) / div
        colour = PHASE_COLOURS.get(str(phase), "#cccccc")
        if phase in INSTANTS:
            ax.vlines(start, y - 0.38, y + 0.38, color=colour, linewidth=2)
        else:
            width = np.maximum(g["end"].to_numpy(float) / div - start, 0.0)
            ax.barh(y, width, left=start, height=0.6, color=colour, linewidth=0)
    styles = {
        "model_submitted": ("submission", "^", "#08519c", 14),
        "reported": ("report", "o", "#006d2c", 16),
        "slashed": ("slash", "x", "#cb181d", 40),
    }
    for kind, (_, marker, colour, size) in styles.items():
        m = marks[(marks["kind"] == kind) & marks["task"].isin(list(lane))]
        if len(m):
            ys = [lane[int(t)] + (0.3 if kind == "slashed" else 0.0) for t in m["task"]]
            ax.scatter(m["time"] / div, ys, marker=marker, s=size, color=colour, zorder=3)
    if len(blocks):
        ax.scatter(
            blocks.to_numpy(float) / div,
            np.zeros(len(blocks)),
            marker="|",
            s=60,
            color="#444444",
            linewidths=0.6,
        )
    ax.set_yticks([0, *lane.values()], ["blocks", *[f"task {t}" for t in lane]])
    ax.set_ylim(-0.7, len(lane) + 0.7)
    ax.invert_yaxis()
    ax.grid(axis="x", alpha=0.3)
    handles: list[Any] = [
        Patch(color=PHASE_COLOURS[p], label=_phase_label(p, phases))
        if p not in INSTANTS
        else Line2D([], [], color=PHASE_COLOURS[p], linewidth=2, label=INSTANTS[p])
        for p in PHASE_COLOURS
        if p in drawn
    ]
    for kind, (name, marker, colour, _) in styles.items():
        if (marks["kind"] == kind).any():
            handles.append(Line2D([], [], linestyle="", marker=marker, color=colour, label=name))
    ax.legend(handles=handles, fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))


def _phase_label(phase: str, phases: pd.DataFrame) -> str:
    if phase == "reveal" and not (phases["phase"] == "commit").any():
        return "report"
    return phase


def _session_strip(ax: Axes, sessions: pd.DataFrame, agents: list[str], div: float) -> None:
    colours = behaviour_colours(sessions["behaviour"])
    row = {a: i for i, a in enumerate(agents)}
    chosen = sessions[sessions["agent"].isin(row)]
    for behaviour, g in chosen.groupby("behaviour"):
        start = g["start"].to_numpy(float) / div
        ax.barh(
            [row[str(a)] for a in g["agent"]],
            np.maximum(g["end"].to_numpy(float) / div - start, 0.0),
            left=start,
            height=0.7,
            color=colours.get(str(behaviour), "#999999"),
            linewidth=0,
        )
    total = sessions["agent"].nunique()
    step = max(1, len(agents) // 30)
    ax.set_yticks(
        range(0, len(agents), step), [agents[i] for i in range(0, len(agents), step)], fontsize=6
    )
    ax.set_ylim(-0.7, len(agents) - 0.3)
    ax.invert_yaxis()
    what = (
        f"all {total} agents"
        if len(agents) == total
        else (f"{len(agents)} of {total} agents (those that left or arrived late first)")
    )
    ax.set_title(f"Online sessions of contributors and verifiers: {what}", fontsize=10)
    ax.grid(axis="x", alpha=0.3)
    _behaviour_legend(ax, colours, set(chosen["behaviour"].astype(str)))


def _behaviour_legend(ax: Axes, colours: dict[str, str], present: set[str]) -> None:
    from matplotlib.patches import Patch

    handles = [Patch(color=c, label=b) for b, c in colours.items() if b in present]
    if handles:
        ax.legend(
            handles=handles,
            fontsize=7,
            loc="upper left",
            bbox_to_anchor=(1.0, 1.0),
            title="behaviour",
            title_fontsize=7,
        )


# ---------------------------------------------------------------- money


def balances(frame: pd.DataFrame, moved: pd.DataFrame | None = None) -> bytes | None:
    """Balances by role (``run_tables.balances``, from the series) and the money each role
    moved through the market (``run_tables.flows``, from the events; without it, the
    change of each role's balance since the first sample)."""
    if frame.empty or len(frame.columns) < 2:
        return None
    source = moved if moved is not None else _changes(frame)
    end = max(float(frame["time"].max()), float(source["time"].max()))
    div, unit = time_unit(end or 1.0)
    fig = _figure(12.0, 4.2)
    left, right = fig.subplots(1, 2)
    colours = {"initiators": "#1f77b4", "contributors": "#ff7f0e", "verifiers": "#2ca02c"}
    t = frame["time"].to_numpy(float) / div
    for column in frame.columns[1:]:
        right.plot(
            t, frame[column].to_numpy(float), label=column, color=colours.get(column, "black")
        )
    for column in source.columns[1:]:
        left.step(
            source["time"].to_numpy(float) / div,
            source[column].to_numpy(float),
            where="post",
            label=column,
            color=colours.get(column, "black"),
        )
    left.axhline(0.0, color="black", linewidth=0.8)
    left.set_title("Money each role moved through the market (sum over agents)", fontsize=10)
    for ax in (left, right):
        ax.set_xlim(0, end / div * 1.01 if end > 0 else 1)
    left.set_ylabel("ether")
    right.set_title("Balances held: by role, and by the market contract", fontsize=10)
    right.set_ylabel("ether")
    if (frame.drop(columns="time") > 0).all().all():
        right.set_yscale("log")
    for ax in (left, right):
        ax.set_xlabel(f"simulated time ({unit})")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    return _png(fig)


def _changes(frame: pd.DataFrame) -> pd.DataFrame:
    """Change since the first sample of each role's balance (no market contract)."""
    roles = [c for c in frame.columns[1:] if c != "market contract"]
    out = frame[["time", *roles]].copy()
    for c in roles:
        out[c] = out[c] - out[c].iloc[0]
    return out


def profit(parts: pd.DataFrame) -> bytes | None:
    """Per role and behaviour, the mean per agent of each part of net profit (stacked bars,
    gains up and costs down) with each agent's net profit as a dot and the mean as a bar."""
    parts = parts[parts["net_profit"].notna()]
    if parts.empty:
        return None
    groups = [(str(r), str(b), g) for (r, b), g in parts.groupby(["role", "behaviour"], sort=True)]
    roles = list(dict.fromkeys(r for r, _, _ in groups))
    fig = _figure(max(6.0, 4.0 * len(roles)), 4.8)
    axes = np.atleast_1d(fig.subplots(1, len(roles), squeeze=False)).ravel()
    rng = np.random.default_rng(0)  # jitter of the dots only: a fixed seed, no global state
    for ax, role in zip(axes, roles, strict=True):
        mine = [(b, g) for r, b, g in groups if r == role]
        for x, (_, g) in enumerate(mine):
            up, down = 0.0, 0.0
            for part in PROFIT_PARTS:
                mean = float(g[part].mean())
                if mean >= 0:
                    ax.bar(x, mean, bottom=up, width=0.6, color=PART_COLOURS[part])
                    up += mean
                else:
                    ax.bar(x, mean, bottom=down, width=0.6, color=PART_COLOURS[part])
                    down += mean
            net = g["net_profit"].to_numpy(float)
            jitter = rng.uniform(-0.22, 0.22, len(net))
            ax.scatter(x + jitter, net, s=8, color="black", alpha=0.5, zorder=3, linewidths=0)
            ax.plot([x - 0.35, x + 0.35], [net.mean()] * 2, color="black", linewidth=2, zorder=4)
        ax.axhline(0.0, color="black", linewidth=0.8)
        ax.set_xticks(range(len(mine)), [f"{b}\n(n={len(g)})" for b, g in mine], fontsize=8)
        ax.set_title(f"{role}s", fontsize=10)
        ax.set_ylabel("ether per agent")
        ax.grid(axis="y", alpha=0.3)
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    handles: list[Any] = [Patch(color=PART_COLOURS[p], label=PART_LABELS[p]) for p in PROFIT_PARTS]
    handles += [
        Line2D([], [], color="black", linewidth=2, label="mean net profit"),
        Line2D([], [], linestyle="", marker="o", color="black", alpha=0.5, label="one agent"),
    ]
    fig.legend(handles=handles, loc="outside lower center", ncols=len(handles), fontsize=8)
    fig.suptitle("Net profit per agent, by behaviour: what it is made of", fontsize=11)
    return _png(fig)


# ---------------------------------------------------------------- truth beside claims


def claims(frame: pd.DataFrame) -> bytes | None:
    """Per task (x), each report's fused accuracy (filled, coloured by behaviour) beside the
    honest value (hollow) joined by a line; the task's MAFR as a dash."""
    if frame.empty:
        return None
    tasks = sorted({int(t) for t in frame["task"]})
    pos = {t: i for i, t in enumerate(tasks)}
    colours = behaviour_colours(frame["behaviour"])
    fig = _figure(min(max(7.0, 0.5 * len(tasks) + 3), 20.0), 4.6)
    ax = fig.subplots()
    # members of a task side by side around its position
    rank = frame.groupby("task").cumcount().to_numpy(float)
    size = frame.groupby("task")["task"].transform("size").to_numpy(float)
    spread = np.minimum(0.7 / np.maximum(size, 1), 0.12)
    x = np.array([pos[int(t)] for t in frame["task"]], dtype=float)
    x = x + (rank - (size - 1) / 2) * spread
    honest = frame["honest"].to_numpy(float)
    reported = frame["reported"].to_numpy(float)
    known = ~np.isnan(honest)
    colour = [colours.get(str(b), "#999999") for b in frame["behaviour"]]
    ax.vlines(
        x[known],
        honest[known],
        reported[known],
        colors=np.array(colour)[known],
        linewidth=0.8,
        alpha=0.7,
    )
    ax.scatter(
        x[known],
        honest[known],
        s=26,
        facecolors="none",
        edgecolors="black",
        linewidths=0.8,
        zorder=3,
    )
    ax.scatter(x, reported, s=26, color=colour, zorder=4)
    mafr = frame.groupby("task")["mafr"].first()
    for task, value in zip(mafr.index, mafr.to_numpy(float), strict=True):
        if not math.isnan(value):
            at = pos[int(task)]
            ax.plot(
                [at - 0.42, at + 0.42],
                [value, value],
                color="#b00000",
                linewidth=1.5,
                linestyle="--",
            )
    from matplotlib.lines import Line2D

    handles: list[Any] = [
        Line2D([], [], linestyle="", marker="o", color=colours[b], label=f"reported ({b})")
        for b in colours
        if b in set(frame["behaviour"].astype(str))
    ]
    handles.append(
        Line2D(
            [],
            [],
            linestyle="",
            marker="o",
            markerfacecolor="none",
            color="black",
            label="honest value",
        )
    )
    if mafr.notna().any():
        handles.append(Line2D([], [], color="#b00000", linestyle="--", label="MAFR"))
    ax.legend(handles=handles, fontsize=8, loc="best")
    step = max(1, len(tasks) // 40)
    ax.set_xticks(range(0, len(tasks), step), [str(tasks[i]) for i in range(0, len(tasks), step)])
    ax.set_xlabel("task")
    ax.set_ylabel("fused accuracy on the verification data")
    ax.set_title("Committee reports beside the honest value, per task", fontsize=10)
    ax.grid(alpha=0.3)
    return _png(fig)


def pay_shares(frame: pd.DataFrame) -> bytes | None:
    """Each contributor's pay share against its true-contribution share; diagonal = fair."""
    if frame.empty:
        return None
    colours = behaviour_colours(frame["behaviour"])
    fig = _figure(6.4, 5.6)
    ax = fig.subplots()
    top = float(max(frame["pay_share"].max(), frame["truth_share"].max(), 0.05)) * 1.05
    ax.plot([0, top], [0, top], color="black", linewidth=0.8, label="fair pay (diagonal)")
    for behaviour, g in frame.groupby("behaviour", sort=True):
        ax.scatter(
            g["truth_share"],
            g["pay_share"],
            s=18,
            alpha=0.75,
            color=colours.get(str(behaviour), "#999999"),
            label=str(behaviour),
        )
    ax.set_xlim(0, top)
    ax.set_ylim(0, top)
    ax.set_xlabel("share of the task's true contributions (held-out data)")
    ax.set_ylabel("share of the task's contributor pay")
    ax.set_title(
        f"Pay against true contribution: {len(frame)} submissions of "
        f"{frame['task'].nunique()} paid task(s)",
        fontsize=10,
    )
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return _png(fig)


# ---------------------------------------------------------------- chain


def gas(frame: pd.DataFrame) -> bytes | None:
    """Gas by contract function (``gas_by_function``), failed transactions' gas hatched."""
    if frame.empty:
        return None
    frame = frame.iloc[::-1]
    fig = _figure(8.0, 1.2 + 0.38 * len(frame))
    ax = fig.subplots()
    y = np.arange(len(frame))
    ok_gas = (frame["gas"] - frame["failed_gas"]).to_numpy(float) / 1e6
    bad_gas = frame["failed_gas"].to_numpy(float) / 1e6
    ax.barh(y, ok_gas, color="#4c72b0", label="succeeded")
    if bad_gas.sum() > 0:
        ax.barh(y, bad_gas, left=ok_gas, color="#dd8452", hatch="//", label="failed")
    labels = [
        f"{f} ({n:,} tx" + (f", {k:,} failed)" if k else ")")
        for f, n, k in zip(frame["function"], frame["transactions"], frame["failed"], strict=True)
    ]
    ax.set_yticks(y, labels, fontsize=8)
    ax.set_xlabel("gas used (millions)")
    ax.set_title("Gas by contract function", fontsize=10)
    ax.grid(axis="x", alpha=0.3)
    ax.legend(fontsize=8)
    return _png(fig)


def blocks(frame: pd.DataFrame, end: float) -> bytes | None:
    """Transactions per block over simulated time (``transactions_per_block``)."""
    if frame.empty:
        return None
    div, unit = time_unit(max(end, 1.0))
    fig = _figure(12.0, 3.6)
    ax = fig.subplots()
    t = frame["time"].to_numpy(float) / div
    ok = (frame["transactions"] - frame["failed"]).to_numpy(float)
    ax.vlines(t, 0, ok, color="#4c72b0", linewidth=1.2, label="succeeded")
    if frame["failed"].sum() > 0:
        ax.vlines(
            t,
            ok,
            ok + frame["failed"].to_numpy(float),
            color="#dd8452",
            linewidth=1.2,
            label="failed",
        )
    ax.scatter(t, frame["transactions"], s=6, color="black", zorder=3)
    ax.set_xlim(0, end / div * 1.01 if end > 0 else 1)
    ax.set_ylim(0, None)
    ax.set_xlabel(f"simulated time ({unit})")
    ax.set_ylabel("transactions in the block")
    ax.set_title(
        f"Transactions per block: {int(frame['transactions'].sum()):,} in {len(frame):,} blocks",
        fontsize=10,
    )
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return _png(fig)


def activity(series: pd.DataFrame) -> bytes | None:
    """Agents online per role and open tasks over time (the model-level series)."""
    online = [c for c in ("online_contributors", "online_verifiers") if c in series.columns]
    if series.empty or not online:
        return None
    div, unit = time_unit(max(float(series["time"].max()), 1.0))
    fig = _figure(12.0, 3.6)
    left, right = fig.subplots(1, 2)
    t = series["time"].to_numpy(float) / div
    for column in online:
        left.step(
            t, series[column].to_numpy(float), where="post", label=column.replace("online_", "")
        )
    left.set_title("Agents online, by role", fontsize=10)
    left.set_ylabel("agents")
    if "open_tasks" in series.columns:
        right.step(t, series["open_tasks"].to_numpy(float), where="post", color="black")
    right.set_title("Open tasks (created, not yet finalized)", fontsize=10)
    right.set_ylabel("tasks")
    for ax in (left, right):
        ax.set_xlabel(f"simulated time ({unit})")
        ax.set_ylim(0, None)
        ax.grid(alpha=0.3)
    left.legend(fontsize=8)
    return _png(fig)
