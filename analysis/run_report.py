"""The static HTML report of one run: what happened, who earned what, claims beside truth.

``render_run_report(DIR, OUT)`` reads a run's output directory (``events.parquet``; also
``series.parquet``, ``summary.json`` and ``scenario.toml`` when there) through
``analysis.run_tables``, draws ``analysis.run_figures``' figures and returns the page
(``index.html``), its PNGs and two tables it derives (``tasks.csv``, ``agents.csv``) as an
``analysis.report.Report``; the front end (``sim.runview``) writes them into ``OUT``.
Nothing but the run's own files is read, so a copied run directory gives the same page.
The page needs no server and no network; an inline script marks any figure that fails to
load and counts those that did (``<body data-images-loaded>``), as the sweep report does.
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

from analysis import metrics, run_figures, run_tables
from analysis.metrics import metric_info
from analysis.report import IMAGE_CHECK_SCRIPT, PAGE_STYLE, Report

_STYLE = (
    PAGE_STYLE
    + """
body { max-width: 84em; }
figure { display: block; margin: 0.8em 0; }
figcaption { font-size: 0.88em; color: #333; max-width: 60em; }
nav a { margin-right: 1em; }
"""
)


@dataclass(frozen=True)
class Figure:
    """One figure of the page: file name, section, alt text and how to read it."""

    name: str
    section: str
    alt: str
    caption: str


FIGURES: tuple[tuple[str, str, str], ...] = (
    ("timeline.png", "timeline", "Timeline of the tasks' phases and the agents' sessions"),
    ("balances.png", "money", "Balances by role over time"),
    ("profit.png", "money", "Net profit per agent by behaviour, decomposed"),
    ("claims.png", "truth", "Committee reports beside the honest values"),
    ("pay-shares.png", "truth", "Pay share against true contribution share"),
    ("gas.png", "chain", "Gas by contract function"),
    ("blocks.png", "chain", "Transactions per block over time"),
)
"""Every figure the page can show, in page order: (file, section, alt text)."""


def render_run_report(root: str | Path, out_dir: str | Path) -> Report:
    """The report of the run whose outputs are in ``root``, to be written into ``out_dir``."""
    root = Path(root)
    out_dir = Path(out_dir)
    run = run_tables.read_run(root)
    phases = run_tables.task_phases(run.events)
    agents = metrics.agents(run.events)
    parts = run_tables.profit_parts(run.events, agents)
    drawn = _draw(run, phases, parts)
    files: dict[str, bytes] = dict(drawn)
    task_table = metrics.tasks(run.events)
    files["tasks.csv"] = task_table.to_csv(index=False).encode()
    files["agents.csv"] = _agents_csv(agents, parts).encode()
    page = _page(run, set(drawn), root, out_dir, phases)
    files["index.html"] = page.encode()
    return Report(files)


def _draw(run: run_tables.RunTables, phases: pd.DataFrame, parts: pd.DataFrame) -> dict[str, bytes]:
    ev = run.events
    end = run.end_time
    marks = ev[ev["kind"].isin(["model_submitted", "reported", "slashed"])][
        ["time", "task", "kind"]
    ].dropna(subset=["task"])
    out: dict[str, bytes | None] = {
        "timeline.png": run_figures.timeline(
            phases, marks, run_tables.block_times(ev), run_tables.sessions(ev), end
        ),
        "balances.png": _balances(run),
        "profit.png": run_figures.profit(parts),
        "claims.png": run_figures.claims(
            run_tables.claims(ev, run_tables.mafr_by_task(ev, run.scenario))
        ),
        "pay-shares.png": run_figures.pay_shares(run_tables.pay_shares(ev)),
        "gas.png": run_figures.gas(run_tables.gas_by_function(ev)),
        "blocks.png": run_figures.blocks(run_tables.transactions_per_block(ev), end),
    }
    return {k: v for k, v in out.items() if v is not None}


def _balances(run: run_tables.RunTables) -> bytes | None:
    if run.series is None:
        return None
    return run_figures.balances(run_tables.balances(run.series), run_tables.flows(run.events))


def _agents_csv(a: pd.DataFrame, parts: pd.DataFrame) -> str:
    joined = a.merge(
        parts.drop(columns=["role", "behaviour"]).add_suffix("_ether"),
        left_on="agent",
        right_on="agent_ether",
    ).drop(columns=["agent_ether"])
    return str(joined.to_csv(index=False))


# ---------------------------------------------------------------- the page


def _page(
    run: run_tables.RunTables, drawn: set[str], root: Path, out_dir: Path, phases: pd.DataFrame
) -> str:
    summary = run.summary or {}
    name = str(summary.get("scenario") or (run.scenario or {}).get("name") or root.name)
    rel = _rel(root, out_dir)
    parts = [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>baasim run: {_e(name)}</title><style>{_STYLE}</style></head><body>",
        f"<h1>Run: {_e(name)}</h1>",
        _overview(run, summary, root),
        '<nav><a href="#timeline">Timeline</a><a href="#money">Money</a>'
        '<a href="#truth">Truth beside claims</a><a href="#chain">Chain</a>'
        '<a href="#metrics">Metrics</a><a href="#tables">Tables</a>'
        '<a href="#scenario">Scenario</a></nav>',
        _section("timeline", "Timeline", "", drawn, run),
        _section("money", "Money", "", drawn, run),
        _section("truth", "Truth beside claims", _truth_intro(), drawn, run),
        _section("chain", "Chain", "", drawn, run),
        _metrics_section(run, phases),
        _tables_section(run, rel),
        _scenario_section(run, rel),
        f"<script>{IMAGE_CHECK_SCRIPT}</script></body></html>",
    ]
    return "\n".join(p for p in parts if p) + "\n"


def _rel(root: Path, out_dir: Path) -> Path:
    """How the page reaches the run's files: ``..`` from ``RUN/report``, else absolute."""
    return Path("..") if out_dir.resolve().parent == root.resolve() else root.resolve()


def _overview(run: run_tables.RunTables, summary: dict[str, Any], root: Path) -> str:
    ev = run.events
    when = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    agents = ev[ev["kind"] == "funded"]
    roles = agents.groupby("role")["agent"].nunique()
    who = ", ".join(f"{int(n):,} {r}s" for r, n in roles.items())
    bits = [
        f"run <code>{_e(str(summary.get('run_id', ev['run_id'].iloc[0] if len(ev) else '')))}"
        "</code>",
        f"seed {_e(str(summary.get('seed', ev['seed'].iloc[0] if len(ev) else '')))}",
    ]
    if summary.get("status"):
        bits.append(f"status <b>{_e(str(summary['status']))}</b>")
    end = run.end_time
    div, unit = run_figures.time_unit(max(end, 1.0))
    bits.append(f"{end / div:,.1f} simulated {unit}")
    if summary.get("wall_time_s") is not None:
        bits.append(f"{float(summary['wall_time_s']):,.1f} s of wall time")
    bits.append(who or "no agents")
    tasks = ev[ev["kind"] == "task_created"]["task"].nunique()
    bits.append(f"{tasks} task(s), {int((ev['kind'] == 'tx').sum()):,} transactions")
    return (
        f'<p class="meta">{"; ".join(bits)}. From <code>{_e(str(root.resolve()))}</code>; '
        f"generated {when}.</p>"
        "<p>What happened in this run, drawn from its tables alone: when each task moved "
        "through its phases and who was online, where the money went, what the committee "
        "claimed beside the truth, and what the chain carried. Amounts are in ether; times "
        "are simulated (the run's clock), not wall time.</p>"
    )


def _truth_intro() -> str:
    return (
        "<p>Beside every claim, the truth: an oracle (costless, omniscient) redoes each "
        "verifier's work honestly and measures each contributor's contribution on held-out "
        "data nobody in the market sees.</p>"
    )


_CAPTIONS = {
    "timeline.png": (
        "Each task is a lane; its coloured bars are the phases as they happened: <b>open</b> "
        "(created, no submission yet: contributors are training), <b>submissions</b> (first "
        "submission until the committee draw), the <b>draw</b> (black stroke), <b>commit</b> "
        "(draw until the first reveal: the commit window; commit–reveal only), <b>reveal</b> "
        "(first reveal until finalization: the reveal window; <i>report</i>, from the draw, "
        "when reports are plain), <b>finalize</b> (purple stroke) and <b>payouts</b> (until "
        "the last withdrawal of the task's credit; a bar running to the end means some "
        "credit was never withdrawn). Triangles are submissions, dots reports, red crosses "
        "slashes; the <i>blocks</i> lane has a tick per block sealed. Below: contributors' "
        "and verifiers' online sessions, coloured by behaviour; gaps are time offline "
        "(churn)."
    ),
    "balances.png": (
        "Left: the money each role moved through the market, summed over its agents: "
        "withdrawals in, minus value sent (rewards escrowed, stakes) and gas fees out, from "
        "the events (newcomers' endowments are not counted). Initiators fall as they escrow "
        "rewards; contributors and verifiers rise as they withdraw pay; a verifier's stake "
        "goes out at registration and comes back with its withdrawal. Right: the balances "
        "held, by role and by the market contract (escrow and stakes not yet paid out), from "
        "<code>series.parquet</code>, sampled every <code>run.collect_interval_s</code>; a "
        "role's total jumps when a newcomer arrives with its endowment."
    ),
    "profit.png": (
        "For each role and behaviour, the stacked bars are the mean per agent of each part "
        "of net profit: <b>pay</b> (credited by the contract), <b>stake lost</b> (slashed), "
        "<b>gas</b> (fees), <b>compute</b> (training and evaluation at "
        "<code>costs.compute_price_ether_per_hour</code>, with the cost of capital of "
        "stakes) and the rest (an initiator's reward escrowed less its refund). The black "
        "bar is the mean net profit (the parts sum to it); each dot one agent. Where a "
        "dishonest behaviour's bar sits above the honest one's, dishonesty paid in this run."
    ),
    "claims.png": (
        "For each task, each committee member's report: a filled dot at the fused accuracy "
        "it reported (colour: its behaviour), a hollow dot at what it would have found doing "
        "the work honestly, joined by a line (no line: it reported the truth). The dashed red "
        "dash is the task's MAFR: a report above it votes to accept."
    ),
    "pay-shares.png": (
        "Each dot is one contributor's submission to a paid task: its share of the task's "
        "contributor pay (up) against its share of the positive true contributions measured "
        "on held-out data (across). On the diagonal pay is fair; above it a contributor got "
        "more than it added (a free rider paid as a worker sits high on the left), below it "
        "less."
    ),
    "gas.png": (
        "Gas used by each contract function over the run, with the number of transactions "
        "(hatched: gas of transactions that failed)."
    ),
    "blocks.png": (
        "Each stroke is one block sealed: its height is the transactions it held (orange: "
        "failed ones). Blocks are sealed only when transactions wait, so gaps are quiet "
        "times."
    ),
}


def _section(
    anchor: str, title: str, intro: str, drawn: set[str], run: run_tables.RunTables
) -> str:
    parts = [f'<h2 id="{anchor}">{_e(title)}</h2>', intro]
    for name, section, alt in FIGURES:
        if section != anchor:
            continue
        if name in drawn:
            parts.append(
                f'<figure><img src="{_e(name)}" alt="{_e(alt)}">'
                f"<figcaption>{_CAPTIONS[name]}</figcaption></figure>"
            )
        else:
            parts.append(f'<p class="note">No figure “{_e(alt)}”: {_why_none(name, run)}.</p>')
    return "\n".join(p for p in parts if p)


def _why_none(name: str, run: run_tables.RunTables) -> str:
    reasons = {
        "timeline.png": "the run created no task and had no agents",
        "balances.png": "the run directory has no series.parquet"
        if run.series is None
        else "series.parquet has no balances",
        "profit.png": "no agent has an end balance",
        "claims.png": "no committee member reported",
        "pay-shares.png": "no task paid its contributors, or no true contribution is known",
        "gas.png": "no transaction was sent",
        "blocks.png": "no transaction was sent",
    }
    return reasons[name]


def _metrics_section(run: run_tables.RunTables, phases: pd.DataFrame) -> str:
    summary = run.summary if run.summary is not None else metrics.summarize(run.events)
    rows = []
    for key, value in _flatten(summary):
        info = metric_info(key)
        if info is None:
            continue
        shown = value * info.scale if isinstance(value, numbers.Real) else value
        rows.append([key, info.label, _fmt(shown), info.shown_unit or info.unit])
    facts = [
        [k.replace("_wei", " (ether)"), _fmt(_ether(k, summary[k]))]
        for k in (
            "status",
            "sim_duration_s",
            "wall_time_s",
            "blocks",
            "chain_transactions",
            "burned_fees_wei",
            "market_balance_wei",
            "burned_stakes_wei",
        )
        if k in summary
    ]
    status = run_tables.task_status(run.events, phases=phases)
    task_rows = [[_fmt(v) for v in r.values()] for r in status.to_dict("records")]
    source = "summary.json" if run.summary is not None else "computed from events.parquet"
    parts = [
        '<h2 id="metrics">Metrics</h2>',
        f"<p>The run's metrics ({source}); what each means, its unit and range are in the "
        "README's Metrics table. Money in ether.</p>",
        _table(["metric", "meaning", "value", "unit"], rows),
    ]
    if facts:
        parts.append(_table(["run", "value"], facts))
    parts.append("<h3>Tasks</h3>")
    parts.append(_table(list(status.columns), task_rows))
    return "\n".join(parts)


def _ether(key: str, value: Any) -> Any:
    if key.endswith("_wei") and isinstance(value, numbers.Real):
        return float(value) / metrics.WEI_PER_ETHER
    return value


def _flatten(summary: dict[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    for key, value in summary.items():
        if key in ("agents", "task_outcomes"):
            continue
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out += _flatten(value, f"{name}.")
        elif value is None or isinstance(value, (numbers.Real, str)):
            out.append((name, math.nan if value is None else value))
    return out


def _tables_section(run: run_tables.RunTables, rel: Path) -> str:
    links = [
        ("events.parquet", "every event, one row each (README: Reading the outputs)"),
        ("series.parquet", "model-level series: balances, agents online, open tasks"),
        ("summary.json", "the run's metrics, task outcomes and per-agent figures"),
        ("scenario.toml", "the scenario as run"),
    ]
    items = [
        f'<li><a href="{_e(str(rel / f))}">{_e(f)}</a>: {what}</li>'
        for f, what in links
        if (run.root / f).is_file()
    ]
    items += [
        '<li><a href="tasks.csv">tasks.csv</a>: one row per task (outcome, accuracies, '
        "fairness), beside this page</li>",
        '<li><a href="agents.csv">agents.csv</a>: one row per agent (balances, pay, stakes, '
        "gas, compute, profit and its parts in ether), beside this page</li>",
    ]
    return '<h2 id="tables">Tables</h2><ul>' + "".join(items) + "</ul>"


def _scenario_section(run: run_tables.RunTables, rel: Path) -> str:
    head = '<h2 id="scenario">Scenario as run</h2>'
    if run.scenario_text is None:
        return head + (
            '<p class="note">This run directory has no scenario.toml (runs before it was '
            "written keep only the scenario hash in summary.json).</p>"
        )
    return head + (
        f'<p>Every key with the value it had, defaults included (<a href="'
        f'{_e(str(rel / "scenario.toml"))}">scenario.toml</a>; '
        "<code>baasim run</code> on it runs the same scenario).</p>"
        f"<pre>{_e(run.scenario_text)}</pre>"
    )


def _table(head: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    th = "".join(f"<th>{_e(h)}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{_e(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>"


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
