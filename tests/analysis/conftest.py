"""Synthetic results: sweep directories (the files ``baasim sweep`` writes) and one run's
directory (the files ``baasim run`` writes), with known numbers in them.

``write_run(DIR, contributors=..., verifiers=..., tasks=...)`` makes a run of that size: tasks
an hour apart with commit–reveal, a share of lazy verifiers (reporting 0.9 whatever the
truth, slashed), a free rider, a failed transaction, some churn (a verifier leaving and
coming back, a newcomer arriving), every credit withdrawn except one contributor's last pay.
Money flows are consistent: each end balance is start − value sent − fees + withdrawals.
The run report's tests and its benchmark (at 1,000 agents) use it.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from analysis.metrics import summarize
from sim.recorder import SCHEMA

Metrics = Callable[[Mapping[str, Any], int], Mapping[str, Any] | None]
"""Summary entries of a run from its point's values and its seed; None: the run failed."""


def make_sweep(
    root: Path,
    axes: Sequence[Sequence[tuple[str, Sequence[Any]]]],
    seeds: Sequence[int],
    metrics: Metrics,
    pending: Sequence[str] = (),
) -> dict[str, Any]:
    """Write a sweep directory: ``axes`` lists each axis's (key, values) (zips have several)."""
    params = [key for axis in axes for key, _ in axis]
    rows = [
        [
            dict(zip((k for k, _ in axis), row, strict=True))
            for row in zip(*(v for _, v in axis), strict=True)
        ]
        for axis in axes
    ]
    points: list[dict[str, Any]] = []
    for i, combo in enumerate(itertools.product(*rows)):
        values: dict[str, Any] = {}
        for part in combo:
            values.update(part)
        label = ", ".join(f"{k}={v}" for k, v in values.items())
        points.append({"point": i, "label": label, "values": values, "scenario_hash": f"{i:064x}"})
    runs: list[dict[str, Any]] = [
        {"run_id": f"syn-{p['point']:010d}-s{s}", "point": p["point"], "seed": s}
        for p in points
        for s in seeds
    ]
    sweep = {
        "format": 1,
        "name": "synthetic",
        "description": "numbers made up for the test",
        "source": "test",
        "definition": 'name = "synthetic"\n',
        "base_scenario": {
            "path": "base.toml",
            "name": "syn",
            "hash": "0" * 64,
            "text": "name = 'syn'\n",
        },
        "set": {},
        "parameters": params,
        "axes": [[{"key": k, "values": list(v)} for k, v in axis] for axis in axes],
        "seeds": list(seeds),
        "points": points,
        "runs": runs,
    }
    root.mkdir(parents=True, exist_ok=True)
    (root / "sweep.json").write_text(json.dumps(sweep))
    (root / "failed").mkdir(exist_ok=True)
    for run in runs:
        if run["run_id"] in pending:
            continue
        summary = metrics(points[run["point"]]["values"], run["seed"])
        if summary is None:
            record = {
                "run_id": run["run_id"],
                "error": "ValueError: made to fail",
                "traceback": "Traceback ...",
            }
            (root / "failed" / f"{run['run_id']}.json").write_text(json.dumps(record))
            continue
        folder = root / "runs" / run["run_id"]
        folder.mkdir(parents=True)
        full = {"run_id": run["run_id"], "seed": run["seed"], "status": "completed", **summary}
        (folder / "summary.json").write_text(json.dumps(full))
        events = pd.DataFrame(
            {"run_id": [run["run_id"]] * 3, "seed": [run["seed"]] * 3, "time": [0.0, 1.0, 2.0]}
        )
        events.to_parquet(folder / "events.parquet", index=False)
    return sweep


@pytest.fixture
def sweep_factory(tmp_path: Path) -> Callable[..., Path]:
    def factory(*args: Any, **kw: Any) -> Path:
        root = tmp_path / "sweep"
        make_sweep(root, *args, **kw)
        return root

    return factory


# ---------------------------------------------------------------- one run


ETHER = 10**18
GAS_PRICE = 10**9
START = 100 * ETHER
BLOCK_S = 12.0
MAFR = 0.8


@dataclass
class _Market:
    rows: list[dict[str, Any]]
    spent: dict[str, int]
    withdrawn: dict[str, int]
    roles: dict[str, tuple[str, str]]

    def record(self, time: float, kind: str, agent: str | None = None, **values: Any) -> None:
        role, behaviour = self.roles.get(agent, (None, None)) if agent else (None, None)
        row = {"time": time, "block": int(time // BLOCK_S) + 1, "kind": kind, "agent": agent}
        row |= {"role": role, "behaviour": behaviour, **values}
        self.rows.append(row)

    def tx(self, time: float, agent: str, call: str, gas: int, wei: int = 0, **kw: Any) -> None:
        fee = gas * GAS_PRICE
        ok = kw.pop("ok", True)
        self.spent[agent] = self.spent.get(agent, 0) + fee + (wei if ok else 0)
        detail = call if ok else f"{call}: task is full"
        self.record(time, "tx", agent, ok=ok, gas=gas, fee_wei=fee, wei=wei, detail=detail, **kw)

    def credit(self, time: float, kind: str, agent: str, task: int, wei: int) -> None:
        self.record(time, kind, agent, task=task, wei=wei)

    def withdraw(self, time: float, agent: str, wei: int) -> None:
        self.tx(time, agent, "withdraw", 35_000)
        self.withdrawn[agent] = self.withdrawn.get(agent, 0) + wei
        self.record(time, "withdrawn", agent, wei=wei)


def write_run(root: Path, contributors: int = 6, verifiers: int = 6, tasks: int = 3) -> Path:
    """Write the run directory; returns ``root``."""
    rng = np.random.default_rng(7)
    names = {
        "initiator-0": ("initiator", "honest"),
        **{
            f"contributor-{i}": ("contributor", "free_rider" if i == 0 else "honest")
            for i in range(contributors)
        },
        **{
            f"verifier-{i}": ("verifier", "lazy" if i % 3 == 0 else "honest")
            for i in range(verifiers)
        },
    }
    m = _Market([], {}, {}, dict(names))
    for name in names:
        m.record(0.0, "funded", name, wei=START)
    owed: dict[str, int] = {}
    pool = [f"verifier-{i}" for i in range(verifiers)]
    for k in range(tasks):
        task, t0 = k + 1, 12.0 + 3600.0 * k
        chosen = rng.choice(contributors, size=min(60, contributors), replace=False)
        submitters = [f"contributor-{i}" for i in sorted(chosen)]
        _open(m, rng, task, t0, submitters, pool)
        members = [pool[i] for i in sorted(rng.choice(len(pool), min(5, verifiers), False))]
        final_at = _verify(m, rng, task, t0 + 1812.0, members)
        _settle(m, rng, task, final_at, submitters, members, pool, owed)
        for i, agent in enumerate(sorted(owed)):
            if agent == "contributor-1" and k == tasks - 1:
                continue  # never withdrawn: credit owed at the end
            m.withdraw(final_at + 24.0 + i, agent, owed.pop(agent))
    end = 3600.0 * tasks + 600.0
    # churn: a verifier leaves and comes back, a newcomer arrives late
    m.record(1000.0, "agent_left", "verifier-1")
    m.record(2500.0, "agent_joined", "verifier-1")
    m.roles["verifier-new"] = ("verifier", "honest")
    m.record(3000.0, "funded", "verifier-new", wei=START)
    m.record(3030.0, "agent_joined", "verifier-new")
    for name in m.roles:
        m.record(end, "balance", name, wei=START - m.spent.get(name, 0) + m.withdrawn.get(name, 0))
    m.record(end, "run_finished", None, ok=True, value=end, detail="completed")
    return _write(root, m, end)


REWARD = 5 * ETHER


def _open(
    m: _Market,
    rng: np.random.Generator,
    task: int,
    t0: float,
    submitters: list[str],
    pool: list[str],
) -> None:
    """Create the task; contributors submit, verifiers stake."""
    m.tx(t0, "initiator-0", "create_task", 300_000, REWARD)
    m.record(t0, "task_created", "initiator-0", task=task, wei=REWARD, detail="digits")
    for c in submitters:
        at = t0 + float(rng.uniform(60, 1700))
        m.record(at, "compute", c, value=30.0, wei=10**15)
        m.tx(at, c, "submit_model", 190_000, task=task)
        m.record(at, "model_submitted", c, task=task, cid=f"bafk{c}{task}")
    if task == 1:  # one submission too many: a failed transaction
        m.tx(t0 + 100.0, "contributor-0", "submit_model", 40_000, ok=False, task=task)
    for v in pool:
        m.tx(t0 + 24.0, v, "register_verifier", 94_000, ETHER, task=task)
        m.record(t0 + 24.0, "registered", v, task=task, wei=ETHER)


def _verify(
    m: _Market, rng: np.random.Generator, task: int, drawn_at: float, members: list[str]
) -> float:
    """Draw, commit, reveal (lazy members report 0.9), finalize; the finalization time."""
    m.tx(drawn_at, "initiator-0", "draw_committee", 290_000, task=task)
    m.record(drawn_at, "committee_drawn", None, task=task, value=float(len(members)))
    accuracy = float(rng.uniform(0.82, 0.9))
    for v in members:
        m.record(drawn_at, "selected", v, task=task)
        m.tx(drawn_at + 12.0, v, "commit", 60_000, task=task)
        m.record(drawn_at + 12.0, "committed", v, task=task)
    for v in members:
        lazy = m.roles[v][1] == "lazy"
        m.tx(drawn_at + 912.0, v, "reveal", 230_000, task=task)
        reported = 0.9 if lazy else accuracy
        m.record(drawn_at + 912.0, "reported", v, task=task, value=reported, truth=accuracy)
        if not lazy:
            m.record(drawn_at + 912.0, "compute", v, value=60.0, wei=2 * 10**15)
    final_at = drawn_at + 1524.0
    m.tx(final_at, "initiator-0", "finalize", 550_000, task=task)
    m.record(final_at, "task_finalized", None, task=task, ok=True, value=accuracy)
    truth = accuracy - 0.01
    m.record(final_at, "ground_truth", None, task=task, value=accuracy, truth=truth, ok=True)
    return final_at


def _settle(
    m: _Market,
    rng: np.random.Generator,
    task: int,
    at: float,
    submitters: list[str],
    members: list[str],
    pool: list[str],
    owed: dict[str, int],
) -> None:
    """Pay contributors (the free rider too), verifiers; slash lazy members; refund."""
    rider = [i for i, c in enumerate(submitters) if m.roles[c][1] == "free_rider"]
    truths = rng.uniform(0.0, 0.05, len(submitters))
    truths[rider] = -0.01
    scores = truths + rng.uniform(0.0, 0.02, len(truths))
    scores[rider] = 0.02  # paid all the same
    pay_pool = REWARD * 8 // 10
    shares = np.clip(scores, 0, None) / np.clip(scores, 0, None).sum()
    honest_shares = np.clip(truths, 0, None) / np.clip(truths, 0, None).sum()
    spent = 0
    for c, truth, share, fair in zip(submitters, truths, shares, honest_shares, strict=True):
        pay = int(pay_pool * share)
        m.record(
            at, "true_contribution", c, task=task, truth=float(truth), wei=int(pay_pool * fair)
        )
        if pay:
            m.credit(at, "paid", c, task, pay)
            owed[c] = owed.get(c, 0) + pay
            spent += pay
    honest = [v for v in members if m.roles[v][1] != "lazy"]
    for v in pool:
        back = ETHER
        if v in members and m.roles[v][1] == "lazy":
            m.credit(at, "slashed", v, task, ETHER // 2)
            back = ETHER // 2
        if v in honest:
            pay = (REWARD - pay_pool) // len(honest)
            m.credit(at, "paid", v, task, pay)
            owed[v] = owed.get(v, 0) + pay
            spent += pay
        m.credit(at, "stake_returned", v, task, back)
        owed[v] = owed.get(v, 0) + back
    if spent < REWARD:
        m.credit(at, "refunded", "initiator-0", task, REWARD - spent)
        owed["initiator-0"] = owed.get("initiator-0", 0) + REWARD - spent


def _write(root: Path, m: _Market, end: float) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    ordered = sorted(m.rows, key=lambda r: r["time"])
    for r in ordered:
        for key in ("wei", "fee_wei"):
            if r.get(key) is not None:
                r[key] = Decimal(int(r[key]))
        r |= {"run_id": "synthetic-s0", "seed": 0, "scenario_hash": "0" * 64}
    table = pa.Table.from_pylist(ordered, schema=SCHEMA)
    pq.write_table(table, root / "events.parquet")
    events = pd.read_parquet(root / "events.parquet")
    times = np.arange(0.0, end + 60.0, 60.0)
    series = {"time": times, "block": (times // BLOCK_S).astype(int) + 1}
    for role in ("initiator", "contributor", "verifier"):
        series[f"{role}_balance_ether"] = _role_balance(events, role, times)
    series["market_balance_ether"] = np.zeros(len(times))
    series["online_contributors"] = np.full(len(times), 6)
    series["online_verifiers"] = np.full(len(times), 6)
    series["open_tasks"] = np.ones(len(times), dtype=int)
    pd.DataFrame(series).to_parquet(root / "series.parquet", index=False)
    summary = {
        "run_id": "synthetic-s0",
        "scenario": "synthetic",
        "seed": 0,
        "status": "completed",
        "sim_duration_s": end,
        "wall_time_s": 1.0,
    }
    summary |= summarize(events)
    (root / "summary.json").write_text(json.dumps(summary, default=_plain))
    (root / "scenario.toml").write_text(
        'name = "synthetic"\n\n[[tasks]]\nname = "digits"\nmafr = 0.8\ncommit_reveal = true\n'
    )
    return root


def _role_balance(events: pd.DataFrame, role: str, times: np.ndarray) -> np.ndarray:
    mine = events[events["role"] == role]
    out = np.zeros(len(times))
    funded = mine[mine["kind"] == "funded"]
    for t, w in zip(funded["time"], funded["wei"], strict=True):
        out[times >= t] += int(w) / ETHER
    tx = mine[mine["kind"] == "tx"]
    for t, w, f, ok in zip(tx["time"], tx["wei"], tx["fee_wei"], tx["ok"], strict=True):
        out[times >= t] -= ((int(w) if ok else 0) + int(f)) / ETHER
    got = mine[mine["kind"] == "withdrawn"]
    for t, w in zip(got["time"], got["wei"], strict=True):
        out[times >= t] += int(w) / ETHER
    return out


def _plain(value: Any) -> Any:
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return float(value)
    return str(value)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small synthetic run directory (``write_run``'s defaults), shared by a module."""
    return write_run(tmp_path_factory.mktemp("run") / "synthetic")
