"""What one run's tables say over time: the views the run report and the dashboard draw.

Pure functions of a run's event table (``events.parquet``), its model-level series
(``series.parquet``) and its scenario text (``scenario.toml``): each returns a small tidy
table. ``read_run(DIR)`` reads those files (it never writes); a copied run directory is
enough, nothing else is consulted.

- ``task_phases``: each task's phases as they happened, from its events — *open* (created,
  no submission yet: contributors train), *submissions* (first submission to the committee
  draw), *draw* (the on-chain draw, an instant), *commit* (draw to the first reveal; only
  with commit–reveal), *reveal* (first reveal to finalization: the reveal window; *report*,
  from the draw, without commit–reveal), *finalize* (the ``finalize`` transaction, an
  instant) and *payouts* (finalization to the last withdrawal of the task's credit).
  ``task_status`` gives each task's phase at a time, with its counts and outcome.
- ``sessions``: each agent's online sessions (churn); ``block_times``: when each block
  appeared; ``transactions_per_block``; ``gas_by_function``.
- ``profit_parts``: each agent's net profit split into pay, stake lost, gas, compute and the
  rest (an initiator's escrow spent).
- ``claims``: each committee member's reported fused accuracy beside the honest value and
  the task's MAFR; ``pay_shares``: each contributor's share of its task's pay beside its
  share of the true contributions.
"""

from __future__ import annotations

import json
import math
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from analysis import metrics

WEI_PER_ETHER = metrics.WEI_PER_ETHER
PHASES = ("open", "submissions", "draw", "commit", "reveal", "finalize", "payouts")
"""Task phases in order (``reveal`` is called ``report`` without commit–reveal)."""
INSTANTS = ("draw", "finalize")
"""Phases that are one transaction: they start and end at once."""
RUN_FILES = ("events.parquet", "series.parquet", "summary.json", "scenario.toml")


class RunError(ValueError):
    """A directory that is not a run's output directory, or a table that cannot be read."""


@dataclass(frozen=True)
class RunTables:
    """The files of one run's output directory, read."""

    root: Path
    events: pd.DataFrame
    series: pd.DataFrame | None
    summary: dict[str, Any] | None
    scenario_text: str | None

    @property
    def scenario(self) -> dict[str, Any] | None:
        """The scenario as run (parsed ``scenario.toml``), None when the run has none."""
        if self.scenario_text is None:
            return None
        try:
            return tomllib.loads(self.scenario_text)
        except tomllib.TOMLDecodeError:
            return None

    @property
    def end_time(self) -> float:
        """The simulated time of the run's last event."""
        return float(self.events["time"].max()) if len(self.events) else 0.0


def is_run_dir(root: str | Path) -> bool:
    return (Path(root) / "events.parquet").is_file()


def read_run(root: str | Path) -> RunTables:
    """Read the run output directory ``root`` (only ``events.parquet`` is required)."""
    root = Path(root)
    path = root / "events.parquet"
    if not path.is_file():
        raise RunError(f"{root}: not a run directory (no events.parquet)")
    try:
        events = pd.read_parquet(path)
    except (OSError, ValueError) as err:
        raise RunError(f"{path}: cannot read: {err}") from err
    series = None
    if (root / "series.parquet").is_file():
        series = pd.read_parquet(root / "series.parquet")
    summary = None
    if (root / "summary.json").is_file():
        try:
            summary = json.loads((root / "summary.json").read_text())
        except ValueError as err:
            raise RunError(f"{root / 'summary.json'}: cannot read: {err}") from err
    text = (root / "scenario.toml").read_text() if (root / "scenario.toml").is_file() else None
    return RunTables(root, events, series, summary, text)


def _rows(events: pd.DataFrame, kind: str) -> pd.DataFrame:
    return events[events["kind"] == kind]


def _first(times: pd.Series, task: Any) -> float:
    value = times.get(task, math.nan)
    return float(value)


# ---------------------------------------------------------------- tasks


def task_phases(events: pd.DataFrame, now: float | None = None) -> pd.DataFrame:
    """One row per phase each task has entered: task, phase, start, end.

    A phase ends where the next begins; the draw and finalization are instants; payouts end
    at the last withdrawal of the task's credit. A phase under way (or credit never
    withdrawn) ends at ``now``, the run's last event time by default.
    """
    events = _until(events, now)
    now = _now(events, now)
    created = _rows(events, "task_created").drop_duplicates("task").set_index("task")["time"]
    first = {k: _rows(events, k).groupby("task")["time"].min() for k in _PHASE_KINDS}
    paid_out = _payouts_done(events)
    rows: list[dict[str, Any]] = []
    for task, born in created.items():
        drawn = _first(first["committee_drawn"], task)
        first_report = _first(first["reported"], task)
        committing = not math.isnan(_first(first["committed"], task))
        final = _first(first["task_finalized"], task)
        starts = [
            ("open", float(born)),
            ("submissions", _first(first["model_submitted"], task)),
            ("draw", drawn),
            # commits come early; reveals wait for the commit window to close
            ("commit", drawn if committing else math.nan),
            ("reveal", first_report if committing else drawn),
            ("finalize", final),
            ("payouts", final),
        ]
        seen = [(p, t) for p, t in starts if not math.isnan(t)]
        for i, (phase, t0) in enumerate(seen):
            if phase in INSTANTS:
                t1 = t0
            elif phase == "payouts":
                t1 = paid_out.get(task, math.nan)
            else:
                t1 = seen[i + 1][1] if i + 1 < len(seen) else math.nan
            t1 = max(now, t0) if math.isnan(t1) else max(t1, t0)
            rows.append({"task": task, "phase": phase, "start": t0, "end": t1})
    frame = pd.DataFrame(rows, columns=["task", "phase", "start", "end"])
    return frame.reset_index(drop=True)


def _until(events: pd.DataFrame, now: float | None) -> pd.DataFrame:
    """The events recorded by ``now`` (all of them when None)."""
    return events if now is None else events[events["time"] <= now]


def _now(events: pd.DataFrame, now: float | None) -> float:
    if now is not None:
        return float(now)
    return float(events["time"].max()) if len(events) else 0.0


_PHASE_KINDS = (
    "model_submitted",
    "committee_drawn",
    "committed",
    "reported",
    "task_finalized",
)


def _payouts_done(events: pd.DataFrame) -> dict[Any, float]:
    """Per task, the last withdrawal that cleared its credit (NaN while some is owed).

    A withdrawal clears every earlier credit of its agent (``metrics.credits``' rule), so
    each credit is cleared by the agent's first withdrawal recorded after it: found for all
    credits at once by an as-of join on the recording order.
    """
    ev = events.reset_index(drop=True).assign(seq=np.arange(len(events)))
    credit = ev[ev["kind"].isin(metrics.CREDIT_KINDS)]
    positive = np.array([metrics.wei_sum([w]) > 0 for w in credit["wei"]], dtype=bool)
    credit = credit[positive]
    taken = ev[ev["kind"] == "withdrawn"][["seq", "agent", "time"]]
    cleared = pd.merge_asof(
        credit[["seq", "agent", "task"]].sort_values("seq"),
        taken.rename(columns={"time": "withdrawn_at"}).sort_values("seq"),
        on="seq",
        by="agent",
        direction="forward",
        allow_exact_matches=False,
    )
    out: dict[Any, float] = {}
    for task, g in cleared.groupby("task"):
        at = g["withdrawn_at"]
        out[task] = math.nan if at.isna().any() else float(at.max())
    return out


def task_status(
    events: pd.DataFrame, now: float | None = None, phases: pd.DataFrame | None = None
) -> pd.DataFrame:
    """One row per task: template, creation, its phase at ``now``, submissions, committee,
    reports, outcome and accuracies (what the dashboard's task table shows). ``phases``:
    ``task_phases(events, now)`` when the caller has it already."""
    events = _until(events, now)
    now = _now(events, now)
    phases = task_phases(events, now) if phases is None else phases
    created = _rows(events, "task_created").drop_duplicates("task")
    counts = {
        kind: _rows(events, kind).groupby("task").size()
        for kind in ("model_submitted", "selected", "reported", "slashed")
    }
    final = _rows(events, "task_finalized").drop_duplicates("task").set_index("task")
    truth = _rows(events, "ground_truth").drop_duplicates("task").set_index("task")
    paid_out = _payouts_done(events)
    rows = []
    for r in created.to_dict("records"):
        task = r["task"]
        mine = phases[phases["task"] == task]
        phase = str(mine["phase"].iloc[-1]) if len(mine) else "open"
        if task in final.index and not math.isnan(paid_out.get(task, math.nan)):
            phase = "paid out"
        elif phase == "reveal" and not (_rows(events, "committed")["task"] == task).any():
            phase = "report"
        accepted = final["ok"].get(task) if task in final.index else None
        rows.append(
            {
                "task": int(task),
                "template": r["detail"],
                "created_s": float(r["time"]),
                "phase": phase,
                "submissions": int(counts["model_submitted"].get(task, 0)),
                "committee": int(counts["selected"].get(task, 0)),
                "reports": int(counts["reported"].get(task, 0)),
                "slashed": int(counts["slashed"].get(task, 0)),
                "outcome": _outcome(accepted),
                "reported_accuracy": _num(final["value"].get(task))
                if task in final.index
                else math.nan,
                "honest_accuracy": _num(truth["value"].get(task))
                if task in truth.index
                else math.nan,
            }
        )
    columns = [
        "task",
        "template",
        "created_s",
        "phase",
        "submissions",
        "committee",
        "reports",
        "slashed",
        "outcome",
        "reported_accuracy",
        "honest_accuracy",
    ]
    return pd.DataFrame(rows, columns=columns)


def _outcome(accepted: Any) -> str:
    if (
        accepted is None
        or accepted is pd.NA
        or (isinstance(accepted, float) and math.isnan(accepted))
    ):
        return "–"
    return "accepted" if bool(accepted) else "rejected"


def _num(v: Any) -> float:
    try:
        return float(v)
    except (TypeError, ValueError):
        return math.nan


def mafr_by_task(events: pd.DataFrame, scenario: dict[str, Any] | None) -> dict[int, float]:
    """Each task's MAFR, from the scenario's task templates (matched by template name)."""
    if not scenario:
        return {}
    by_name: dict[str, float] = {}
    for template in scenario.get("tasks", []):
        name = str(template.get("name", "task"))
        if "mafr" in template and name not in by_name:
            by_name[name] = float(template["mafr"])
    created = _rows(events, "task_created")
    return {
        int(t): by_name[str(d)]
        for t, d in zip(created["task"], created["detail"], strict=True)
        if str(d) in by_name
    }


# ---------------------------------------------------------------- agents and time


def sessions(events: pd.DataFrame, end: float | None = None) -> pd.DataFrame:
    """Each contributor's and verifier's online sessions: agent, role, behaviour, start,
    end (a session still open ends at ``end``, the last event time by default).

    An agent funded at the run's start is online from then; a newcomer from its
    ``agent_joined``; ``agent_left`` closes a session.
    """
    end = _now(events, end)
    kinds = ["funded", "agent_joined", "agent_left"]
    rows = events[events["kind"].isin(kinds) & events["role"].isin(["contributor", "verifier"])]
    start_of_run = float(events["time"].min()) if len(events) else 0.0
    open_at: dict[str, float] = {}
    info: dict[str, tuple[str, str]] = {}
    out: list[dict[str, Any]] = []
    for r in rows.sort_values("time", kind="stable").to_dict("records"):
        agent, kind, at = str(r["agent"]), str(r["kind"]), float(r["time"])
        info.setdefault(agent, (str(r["role"]), str(r["behaviour"])))
        if kind == "agent_left":
            if agent in open_at:
                out.append(_session(agent, info[agent], open_at.pop(agent), at))
        elif kind == "agent_joined" or at <= start_of_run:
            open_at.setdefault(agent, at)
    for agent, start in open_at.items():
        out.append(_session(agent, info[agent], start, max(end, start)))
    columns = ["agent", "role", "behaviour", "start", "end"]
    frame = pd.DataFrame(out, columns=columns)
    return frame.sort_values(["role", "agent", "start"], key=_natural).reset_index(drop=True)


def _session(agent: str, who: tuple[str, str], start: float, end: float) -> dict[str, Any]:
    return {"agent": agent, "role": who[0], "behaviour": who[1], "start": start, "end": end}


def _natural(column: pd.Series) -> pd.Series:
    """Sort key: ``contributor-10`` after ``contributor-9``."""
    if column.name != "agent":
        return column
    return column.map(lambda a: (str(a).rsplit("-", 1)[0], _index(str(a))))


def _index(name: str) -> int:
    tail = name.rsplit("-", 1)[-1]
    return int(tail) if tail.isdigit() else -1


def sample_agents(s: pd.DataFrame, limit: int) -> list[str]:
    """At most ``limit`` agents of ``sessions`` output to draw: those whose presence
    changed (left, or joined late) first, then the others, evenly spread, in name order."""
    agents = list(dict.fromkeys(s["agent"]))
    if len(agents) <= limit:
        return agents
    start0 = s["start"].min()
    per = s.groupby("agent").agg(n=("start", "size"), first=("start", "min"))
    churned = [a for a in agents if per.loc[a, "n"] > 1 or per.loc[a, "first"] > start0]
    steady = [a for a in agents if a not in set(churned)]
    keep = churned[:limit]
    room = limit - len(keep)
    if room > 0 and steady:
        picks = np.linspace(0, len(steady) - 1, num=min(room, len(steady))).round().astype(int)
        keep += [steady[i] for i in sorted(set(picks.tolist()))]
    chosen = set(keep)
    return [a for a in agents if a in chosen]


def block_times(events: pd.DataFrame) -> pd.Series:
    """Per block number (above 0), the time it first appears in the table: when it was
    sealed (rows carry the head block when recorded)."""
    b = events[events["block"] > 0]
    return b.groupby("block")["time"].min().sort_index()


def transactions_per_block(events: pd.DataFrame) -> pd.DataFrame:
    """One row per block holding transactions: block, time, transactions, failed, gas."""
    tx = _rows(events, "tx")
    times = block_times(events)
    failed = ~tx["ok"].fillna(False).astype(bool)
    g = tx.assign(failed=failed).groupby("block")
    out = pd.DataFrame(
        {
            "transactions": g.size(),
            "failed": g["failed"].sum().astype(int),
            "gas": g["gas"].sum(),
        }
    )
    out["time"] = [float(times.get(b, math.nan)) for b in out.index]
    return out.reset_index()[["block", "time", "transactions", "failed", "gas"]]


def gas_by_function(events: pd.DataFrame) -> pd.DataFrame:
    """Gas per contract function called (``tx.detail`` up to a revert reason): function,
    transactions, failed, gas, failed_gas; most gas first."""
    tx = _rows(events, "tx")
    function = tx["detail"].fillna("(unknown)").astype(str).str.split(":", n=1).str[0].str.strip()
    failed = ~tx["ok"].fillna(False).astype(bool)
    frame = pd.DataFrame(
        {
            "function": function,
            "gas": tx["gas"].fillna(0).astype(float),
            "failed": failed,
        }
    )
    frame["failed_gas"] = frame["gas"].where(frame["failed"], 0.0)
    g = frame.groupby("function")
    out = pd.DataFrame(
        {
            "transactions": g.size(),
            "failed": g["failed"].sum().astype(int),
            "gas": g["gas"].sum(),
            "failed_gas": g["failed_gas"].sum(),
        }
    ).reset_index()
    return out.sort_values(["gas", "function"], ascending=[False, True]).reset_index(drop=True)


# ---------------------------------------------------------------- money


PROFIT_PARTS = ("pay", "stake_lost", "gas", "compute", "other")
"""Signed parts of net profit (ether): pay, − stake lost, − gas, − compute (and the cost of
capital), and the rest (an initiator's reward escrowed less its refund; a stake still locked
at the end)."""


def profit_parts(events: pd.DataFrame, agents: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per agent: role, behaviour, each signed part of its net profit and the net
    profit itself, in ether. The parts sum to the net profit exactly. ``agents``:
    ``metrics.agents(events)`` when the caller has it already."""
    a = metrics.agents(events) if agents is None else agents
    scale = 1 / WEI_PER_ETHER
    net = np.array([math.nan if v is None else int(v) * scale for v in a["net_profit_wei"]])
    pay = np.array([int(v) for v in a["paid_wei"]], dtype=float) * scale
    stake = -np.array([int(v) for v in a["slashed_wei"]], dtype=float) * scale
    gas = -np.array([int(v) for v in a["gas_fee_wei"]], dtype=float) * scale
    compute = (
        -np.array(
            [
                int(c) + int(k)
                for c, k in zip(a["compute_cost_wei"], a["capital_cost_wei"], strict=True)
            ],
            dtype=float,
        )
        * scale
    )
    other = net - (pay + stake + gas + compute)
    return pd.DataFrame(
        {
            "agent": a["agent"],
            "role": a["role"],
            "behaviour": a["behaviour"],
            "pay": pay,
            "stake_lost": stake,
            "gas": gas,
            "compute": compute,
            "other": other,
            "net_profit": net,
        }
    )


ROLE_COLUMNS = {"initiator": "initiators", "contributor": "contributors", "verifier": "verifiers"}
BALANCE_COLUMNS = {
    "initiator_balance_ether": "initiators",
    "contributor_balance_ether": "contributors",
    "verifier_balance_ether": "verifiers",
    "market_balance_ether": "market contract",
}


def balances(series: pd.DataFrame) -> pd.DataFrame:
    """Balances by role over time (ether) from the model-level series: time and one
    column per role present, plus the market contract's balance (escrow and stakes held)."""
    have = {k: v for k, v in BALANCE_COLUMNS.items() if k in series.columns}
    out = series[["time", *have]].rename(columns=have)
    return out.reset_index(drop=True)


def flows(events: pd.DataFrame) -> pd.DataFrame:
    """Cumulative money each role moved through the market over time (ether): withdrawals
    in, value sent (escrow, stakes) and fees out. time and one column per role; a row per
    change, from the start. What the balances changed by, without newcomers' endowments."""
    tx = _rows(events, "tx")
    sent = [
        -((int(v) if ok is True or ok is np.True_ else 0) + int(f)) / WEI_PER_ETHER
        for v, f, ok in zip(tx["wei"].fillna(0), tx["fee_wei"].fillna(0), tx["ok"], strict=True)
    ]
    out = _rows(events, "withdrawn")
    moves = pd.concat(
        [
            pd.DataFrame({"time": tx["time"], "role": tx["role"], "ether": sent}),
            pd.DataFrame(
                {
                    "time": out["time"],
                    "role": out["role"],
                    "ether": [int(w) / WEI_PER_ETHER for w in out["wei"]],
                }
            ),
        ]
    ).sort_values("time", kind="stable")
    start = float(events["time"].min()) if len(events) else 0.0
    frame = pd.DataFrame({"time": [start, *moves["time"].to_numpy(float)]})
    roles = moves["role"].to_numpy()
    for role, column in ROLE_COLUMNS.items():
        if (roles == role).any():
            mine = np.where(roles == role, moves["ether"].to_numpy(float), 0.0)
            frame[column] = np.concatenate([[0.0], np.cumsum(mine)])
    return frame


# ---------------------------------------------------------------- truth beside claims


def claims(events: pd.DataFrame, mafr: dict[int, float] | None = None) -> pd.DataFrame:
    """One row per committee report: task, agent, behaviour, reported (the fused accuracy
    it reported), honest (what it would have found doing the work), mafr."""
    r = _rows(events, "reported")
    mafr = mafr or {}
    out = pd.DataFrame(
        {
            "task": r["task"].astype(int),
            "agent": r["agent"],
            "behaviour": r["behaviour"],
            "reported": r["value"].astype(float),
            "honest": r["truth"].astype(float),
        }
    )
    out["mafr"] = [mafr.get(int(t), math.nan) for t in out["task"]]
    return out.reset_index(drop=True)


def pay_shares(events: pd.DataFrame) -> pd.DataFrame:
    """One row per submission of a paid task: task, agent, behaviour, pay_share (of the
    contributors' pay for the task) and truth_share (of its positive true contributions on
    held-out data). Fair pay puts every row on the diagonal."""
    c = metrics.contributions(events)
    rows = []
    for task, g in c.groupby("task"):
        pay = np.array([int(p) for p in g["paid_wei"]], dtype=float)
        truth = np.clip(g["true_contribution"].astype(float).to_numpy(), 0.0, None)
        if pay.sum() <= 0 or not np.isfinite(truth).all() or truth.sum() <= 0:
            continue
        for agent, behaviour, p, t in zip(
            g["agent"], g["behaviour"], pay / pay.sum(), truth / truth.sum(), strict=True
        ):
            rows.append(
                {
                    "task": int(float(str(task))),
                    "agent": agent,
                    "behaviour": behaviour,
                    "pay_share": float(p),
                    "truth_share": float(t),
                }
            )
    columns = ["task", "agent", "behaviour", "pay_share", "truth_share"]
    return pd.DataFrame(rows, columns=columns)
