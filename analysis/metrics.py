"""Metrics of one run: pure functions of its event table (as written to events.parquet).

Nothing here imports the simulator: every function takes the tidy event table (pandas) and
returns numbers, so saved results can be re-analysed with pandas alone. Money columns
(``wei``, ``fee_wei``) hold exact ``decimal.Decimal`` values.
"""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd

ETHER = Decimal(10**18)


def _rows(events: pd.DataFrame, kind: str) -> pd.DataFrame:
    return events[events["kind"] == kind]


def wei_sum(values: pd.Series) -> int:
    """Exact sum of a wei column (None/NaN ignored)."""
    return int(sum((Decimal(v) for v in values if v is not None and not _isnan(v)), Decimal(0)))


def _isnan(v: Any) -> bool:
    return isinstance(v, float) and math.isnan(v)


def tasks(events: pd.DataFrame) -> pd.DataFrame:
    """One row per created task: creation time, reward, outcome, aggregate accuracy, payout time."""
    created = _rows(events, "task_created")[["task", "time", "agent", "wei", "detail"]]
    created = created.rename(
        columns={"time": "created_at", "agent": "initiator", "wei": "reward", "detail": "template"}
    )
    final = _rows(events, "task_finalized")[["task", "time", "ok", "value"]]
    final = final.rename(
        columns={"time": "finalized_at", "ok": "accepted", "value": "aggregate_accuracy"}
    )
    out = created.merge(final, on="task", how="left")
    paid = _rows(events, "paid")
    first_paid = paid.groupby("task")["time"].min().rename("first_payment_at")
    out = out.merge(first_paid, left_on="task", right_index=True, how="left")
    truth = _rows(events, "ground_truth")[["task", "value", "truth", "ok"]].rename(
        columns={
            "value": "honest_accuracy",
            "truth": "test_accuracy",
            "ok": "honest_accept",
        }
    )
    out = out.merge(truth, on="task", how="left")
    access = _rows(events, "access_model")[["task", "value"]].rename(
        columns={"value": "initiator_model_accuracy"}
    )
    return out.merge(access, on="task", how="left").reset_index(drop=True)


def task_success_rate(events: pd.DataFrame) -> float:
    """Fraction of finalized tasks that were accepted (NaN if none finalized)."""
    t = tasks(events)
    done = t[t["accepted"].notna()]
    return float(done["accepted"].astype(bool).mean()) if len(done) else math.nan


def fused_accuracy(events: pd.DataFrame) -> float:
    """Mean held-out test accuracy of the fused model of accepted tasks (NaN if none)."""
    t = tasks(events)
    acc = t[t["accepted"].fillna(False).astype(bool)]["test_accuracy"].dropna()
    return float(acc.mean()) if len(acc) else math.nan


def agents(events: pd.DataFrame) -> pd.DataFrame:
    """One row per agent: role, behaviour, start and end balance, payments, stakes, gas."""
    funded = _rows(events, "funded")[["agent", "role", "behaviour", "wei"]]
    funded = funded.rename(columns={"wei": "start_wei"})
    final = _rows(events, "balance")[["agent", "wei"]].rename(columns={"wei": "end_wei"})
    out = funded.merge(final, on="agent", how="left")
    out["paid_wei"] = _per_agent(events, "paid", "wei", out["agent"])
    out["slashed_wei"] = _per_agent(events, "slashed", "wei", out["agent"])
    out["refunded_wei"] = _per_agent(events, "refunded", "wei", out["agent"])
    out["gas_fee_wei"] = _per_agent(events, "tx", "fee_wei", out["agent"])
    out["compute_s"] = [
        float(_rows(events, "compute").groupby("agent")["value"].sum().get(a, 0.0))
        for a in out["agent"]
    ]
    out["compute_cost_wei"] = _per_agent(events, "compute", "wei", out["agent"])
    out["profit_wei"] = [
        int(Decimal(e) - Decimal(s)) if e is not None and not _isnan(e) else None
        for s, e in zip(out["start_wei"], out["end_wei"], strict=True)
    ]
    out["net_profit_wei"] = [
        None if p is None else p - c
        for p, c in zip(out["profit_wei"], out["compute_cost_wei"], strict=True)
    ]
    return out.reset_index(drop=True)


def net_profit_by_behaviour(events: pd.DataFrame) -> dict[str, dict[str, int]]:
    """Mean net profit (wei) per agent of each behaviour, per role.

    Net profit = end balance − start balance (payments − stakes lost − gas − value sent)
    − compute cost at the scenario's price per compute-second. The honest kind sits
    beside the dishonest ones, so where lying pays shows directly.
    """
    a = agents(events)
    a = a[a["net_profit_wei"].notna()]
    out: dict[str, dict[str, int]] = {}
    for (role, behaviour), g in a.groupby(["role", "behaviour"]):
        values = [int(v) for v in g["net_profit_wei"]]
        out.setdefault(str(role), {})[str(behaviour)] = sum(values) // len(values)
    return out


def wrong_outcome_rate(events: pd.DataFrame) -> float:
    """Fraction of finalized tasks whose outcome differs from an all-honest committee's."""
    t = tasks(events)
    judged = t[t["accepted"].notna() & t["honest_accept"].notna()]
    if not len(judged):
        return math.nan
    wrong = judged["accepted"].astype(bool) != judged["honest_accept"].astype(bool)
    return float(wrong.mean())


def _contributions(events: pd.DataFrame) -> pd.DataFrame:
    """Per task and submitting contributor: paid wei, true contribution, honest pay."""
    truth = _rows(events, "true_contribution")[["task", "agent", "behaviour", "truth", "wei"]]
    truth = truth.rename(columns={"wei": "honest_pay_wei", "truth": "true_contribution"})
    paid = _rows(events, "paid")
    paid = paid[paid["role"] == "contributor"]
    sums = {(t, a): wei_sum(g["wei"]) for (t, a), g in paid.groupby(["task", "agent"])}
    truth = truth.copy()
    truth["paid_wei"] = [
        sums.get((t, a), 0) for t, a in zip(truth["task"], truth["agent"], strict=True)
    ]
    return truth.reset_index(drop=True)


def payment_fairness(events: pd.DataFrame) -> float:
    """Mean over accepted tasks of Spearman(payout, true contribution on held-out data)."""
    c = _contributions(events)
    t = tasks(events)
    accepted = set(t[t["accepted"].fillna(False).astype(bool)]["task"])
    values = [
        spearman(g["paid_wei"].astype(float), g["true_contribution"])
        for task, g in c.groupby("task")
        if task in accepted
    ]
    values = [v for v in values if not math.isnan(v)]
    return float(np.mean(values)) if values else math.nan


def free_rider_share(
    events: pd.DataFrame, kinds: tuple[str, ...] = ("free_rider", "plagiarist")
) -> float:
    """Share of all wei paid to contributors that reached free riders and plagiarists."""
    paid = _rows(events, "paid")
    paid = paid[paid["role"] == "contributor"]
    total = wei_sum(paid["wei"])
    if total == 0:
        return math.nan
    return wei_sum(paid[paid["behaviour"].isin(kinds)]["wei"]) / total


def attack_success_rate(events: pd.DataFrame, tolerance: float = 0.05) -> float:
    """Fraction of finalized tasks whose outcome, or whose payments by more than
    ``tolerance`` of the contributor pool, differ from what honest reports would give."""
    t = tasks(events)
    c = _contributions(events)
    judged = t[t["accepted"].notna() & t["honest_accept"].notna()]
    if not len(judged):
        return math.nan
    hits = 0
    for row in judged.to_dict("records"):
        g = c[c["task"] == row["task"]]
        pool = max(wei_sum(g["paid_wei"]), wei_sum(g["honest_pay_wei"]), 1)
        diff = sum(
            abs(int(p) - int(h))
            for p, h in zip(g["paid_wei"], g["honest_pay_wei"].map(_int), strict=True)
        )
        if bool(row["accepted"]) != bool(row["honest_accept"]) or diff / (2 * pool) > tolerance:
            hits += 1
    return hits / len(judged)


def _int(v: Any) -> int:
    return 0 if v is None or _isnan(v) else int(v)


def agents_online(events: pd.DataFrame) -> pd.DataFrame:
    """Agents online over time per role: one row per change (time, role, online)."""
    rows = events[events["kind"].isin(["funded", "agent_joined", "agent_left"])]
    rows = rows[rows["role"].isin(["contributor", "verifier"])].sort_values("time", kind="stable")
    online: dict[str, set[str]] = {}
    records = []
    for r in rows.to_dict("records"):
        members = online.setdefault(str(r["role"]), set())
        if r["kind"] == "agent_left":
            members.discard(r["agent"])
        elif r["kind"] == "agent_joined" or r["time"] == 0:
            members.add(r["agent"])
        records.append({"time": r["time"], "role": r["role"], "online": len(members)})
    return pd.DataFrame.from_records(records, columns=["time", "role", "online"])


def _per_agent(events: pd.DataFrame, kind: str, column: str, names: pd.Series) -> list[int]:
    rows = _rows(events, kind)
    sums = {a: wei_sum(g[column]) for a, g in rows.groupby("agent")}
    return [sums.get(a, 0) for a in names]


def gas_per_task(events: pd.DataFrame) -> float:
    """Total gas of task-related transactions divided by the number of tasks created."""
    n = len(_rows(events, "task_created"))
    tx = _rows(events, "tx")
    gas = tx[tx["task"].notna()]["gas"].sum()
    return float(gas) / n if n else math.nan


def time_to_payout(events: pd.DataFrame) -> float:
    """Mean seconds from task creation to its first payment, over paid tasks (NaN if none)."""
    t = tasks(events)
    d = (t["first_payment_at"] - t["created_at"]).dropna()
    return float(d.mean()) if len(d) else math.nan


def transactions(events: pd.DataFrame) -> int:
    return int(_rows(events, "tx")["ok"].notna().sum())


def summarize(events: pd.DataFrame) -> dict[str, Any]:
    """The metrics every run's summary.json carries."""
    t = tasks(events)
    a = agents(events)
    tx = _rows(events, "tx")
    return {
        "tasks": len(t),
        "tasks_accepted": int(t["accepted"].fillna(False).astype(bool).sum()),
        "task_success_rate": task_success_rate(events),
        "wrong_outcome_rate": wrong_outcome_rate(events),
        "attack_success_rate": attack_success_rate(events),
        "payment_fairness": payment_fairness(events),
        "free_rider_share": free_rider_share(events),
        "net_profit_by_behaviour": net_profit_by_behaviour(events),
        "fused_accuracy": fused_accuracy(events),
        "gas_per_task": gas_per_task(events),
        "time_to_payout": time_to_payout(events),
        "transactions": len(tx),
        "failed_transactions": int((~tx["ok"].astype(bool)).sum()),
        "gas_total": int(tx["gas"].sum()),
        "fees_wei": wei_sum(tx["fee_wei"]),
        "bytes_moved": int(
            _rows(events, "model_uploaded")["bytes"].fillna(0).sum()
            + _rows(events, "model_fetched")["bytes"].fillna(0).sum()
            + _rows(events, "data_received")["bytes"].fillna(0).sum()
        ),
        "task_outcomes": [_task_outcome(r) for r in t.to_dict("records")],
        "agents": {str(r["agent"]): _agent_entry(r) for r in a.to_dict("records")},
    }


def _task_outcome(r: dict[Any, Any]) -> dict[str, Any]:
    accepted = r["accepted"]
    return {
        "task": int(r["task"]),
        "template": r["template"],
        "accepted": None if accepted is None or _isnan(accepted) else bool(accepted),
        "aggregate_accuracy": _num(r["aggregate_accuracy"]),
        "test_accuracy": _num(r["test_accuracy"]),
        "initiator_model_accuracy": _num(r["initiator_model_accuracy"]),
    }


def _agent_entry(r: dict[Any, Any]) -> dict[str, Any]:
    end = r["end_wei"]
    return {
        "role": r["role"],
        "behaviour": r["behaviour"],
        "start_wei": int(r["start_wei"]),
        "end_wei": None if end is None or _isnan(end) else int(end),
        "paid_wei": int(r["paid_wei"]),
        "slashed_wei": int(r["slashed_wei"]),
        "gas_fee_wei": int(r["gas_fee_wei"]),
        "compute_s": float(r["compute_s"]),
        "compute_cost_wei": int(r["compute_cost_wei"]),
        "profit_wei": r["profit_wei"],
        "net_profit_wei": r["net_profit_wei"],
    }


def _num(v: Any) -> float | None:
    if v is None:
        return None
    f = float(v)
    return None if math.isnan(f) else f


def spearman(x: pd.Series, y: pd.Series) -> float:
    """Spearman rank correlation (NaN with fewer than 3 pairs or a constant side)."""
    df = pd.DataFrame({"x": x.astype(float), "y": y.astype(float)}).dropna()
    if len(df) < 3 or df["x"].nunique() < 2 or df["y"].nunique() < 2:
        return math.nan
    return float(np.corrcoef(df["x"].rank(), df["y"].rank())[0, 1])
