"""PNG plots of the paper's Figs 5 and 6 from their tidy tables (mean ± std over seeds).

Uses matplotlib's object API with the Agg canvas, so no global backend is switched.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def _figure(width: float = 6.0, height: float = 4.0) -> Figure:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), dpi=120)
    FigureCanvasAgg(figure)
    return figure


def plot_fig5(fig5: pd.DataFrame, path: Path, dataset: str) -> Path:
    """Bars: each contributor's local validation accuracy, error bars over seeds."""
    stats = fig5.groupby("contributor")["accuracy"].agg(["mean", "std"]).fillna({"std": 0.0})
    figure = _figure()
    ax = figure.add_subplot()
    labels = [f"C{int(c) + 1}" for c in stats.index]
    ax.bar(labels, stats["mean"], yerr=stats["std"], capsize=4, color="tab:blue", alpha=0.8)
    low = max(0.0, float((stats["mean"] - stats["std"]).min()) - 0.05)
    ax.set_ylim(low, 1.0)
    ax.set_xlabel("computing contributor")
    ax.set_ylabel("accuracy on local validation data")
    seeds = fig5["seed"].nunique()
    ax.set_title(f"Fig. 5: contributors' local accuracy ({dataset}, {seeds} seeds)")
    ax.grid(axis="y", alpha=0.3)
    figure.tight_layout()
    figure.savefig(path)
    return path


def plot_fig6(fig6: pd.DataFrame, path: Path, dataset: str) -> Path:
    """Lines: mean fused accuracy against the number of models, per strategy."""
    figure = _figure()
    ax = figure.add_subplot()
    for strategy, marker in (("I", "o"), ("II", "s")):
        rows = fig6[fig6["strategy"] == strategy]
        stats = rows.groupby("n_models")["accuracy"].agg(["mean", "std"]).fillna({"std": 0.0})
        ax.errorbar(
            stats.index, stats["mean"], yerr=stats["std"], marker=marker, capsize=4,
            label=f"Strategy {strategy}",
        )  # fmt: skip
    ax.set_xticks(sorted(fig6["n_models"].unique()))
    ax.set_xlabel("number of models fused")
    ax.set_ylabel("verifiers' mean accuracy of the fused model")
    seeds = fig6["seed"].nunique()
    ax.set_title(f"Fig. 6: fused accuracy ({dataset}, {seeds} seeds)")
    ax.grid(alpha=0.3)
    ax.legend()
    figure.tight_layout()
    figure.savefig(path)
    return path
