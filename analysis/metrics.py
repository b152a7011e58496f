"""Metrics of one run: pure functions of its event table (as written to events.parquet).

Nothing here imports the simulator: every function takes the tidy event table (pandas) and
returns numbers, so saved results can be re-analysed with pandas alone. Money columns
(``wei``, ``fee_wei``) hold exact ``decimal.Decimal`` values.

``METRICS`` is the one registry of what each summary metric means: name, description, unit
and range. The README's table, the report's columns and the figures' axes and interval
clipping all read it (``metric_info`` also resolves the per-role and per-behaviour families
such as ``net_profit_by_behaviour.verifier.lazy``).

Rules the definitions share:

- **Rows in order.** The recorder appends rows in simulated-time order, so a row's position
  orders events at the same instant (a withdrawal row comes after the credits it cleared).
- **Credit.** The contract pays by crediting an account (``paid``, ``stake_returned``,
  ``refunded`` rows); the account holds the money only after it withdraws (``withdrawn``).
  A withdrawal takes the account's whole credit, so it clears every earlier credit of that
  agent not cleared yet. Credit owed at the end = credited − withdrawn, per agent.
- **Transactions.** Every ``tx`` row is a transaction; it failed unless ``ok`` is True (a
  missing outcome counts as failed: nothing confirmed it).
- **Gas of a task.** Every transaction carrying the task's id, the ``create_task``
  transaction that created it (matched per initiator in order), and each withdrawal's gas
  split over the tasks whose credit it cleared, in proportion to the wei (withdrawals carry
  no task id when they clear several tasks' credit at once).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd

ETHER = Decimal(10**18)
WEI_PER_ETHER = 1e18
CREDIT_KINDS = ("paid", "stake_returned", "refunded")
ROLES = ("contributor", "verifier", "initiator")


# ---------------------------------------------------------------- the registry


@dataclass(frozen=True)
class Metric:
    """A summary metric: what it means, its unit and the range its values can take."""

    name: str
    label: str
    """Short name for people (axes, table heads)."""
    description: str
    unit: str
    """Unit of the stored value: fraction, s, gas, wei, count, bytes."""
    low: float | None = None
    high: float | None = None
    scale: float = 1.0
    """Factor to the shown unit (wei -> ether)."""
    shown_unit: str = ""

    @property
    def bounded(self) -> bool:
        return self.low is not None and self.high is not None


def _fraction(name: str, label: str, description: str) -> Metric:
    return Metric(name, label, description, "fraction", 0.0, 1.0)


def _ether(name: str, label: str, description: str, low: float | None = None) -> Metric:
    return Metric(name, label, description, "wei", low, None, 1 / WEI_PER_ETHER, "ether")


METRICS: dict[str, Metric] = {
    m.name: m
    for m in (
        Metric("tasks", "tasks", "Tasks created.", "count", 0.0),
        Metric("tasks_finalized", "tasks finalized", "Tasks finalized.", "count", 0.0),
        Metric("tasks_accepted", "tasks accepted", "Tasks the contract accepted.", "count", 0.0),
        _fraction("task_success_rate", "task success rate", "Accepted ÷ finalized tasks."),
        _fraction(
            "wrong_outcome_rate",
            "wrong-outcome rate",
            "Finalized tasks whose outcome differs from an all-honest committee's.",
        ),
        _fraction(
            "attack_success_rate",
            "attack success rate",
            "Finalized tasks whose outcome, or whose contributor pay by more than 5 % of the "
            "pool (total variation), differs from what honest reports would give.",
        ),
        _fraction(
            "payment_fairness",
            "payment fairness",
            "Mean over paid tasks of 1 − ½ Σ|pᵢ/Σp − φᵢ⁺/Σφ⁺|: 1 when each contributor's "
            "share of the pay equals its share of the positive true contributions φ "
            "(``true_contribution.truth``), 0 when the pay went wholly to contributors "
            "with no true contribution.",
        ),
        _fraction(
            "honest_payment_fairness",
            "honest payment fairness",
            "The same measure for the pay an all-honest committee would have given "
            "(``true_contribution.wei``): the mechanism's own measurement noise. "
            "payment_fairness below it is what dishonesty cost.",
        ),
        Metric(
            "payment_fairness_tasks",
            "fairness tasks",
            "Tasks payment_fairness averages.",
            "count",
            0.0,
        ),
        Metric(
            "payment_fairness_dropped",
            "fairness tasks dropped",
            "Finalized tasks payment_fairness leaves out (no submissions, no pay, no "
            "positive true contribution); ``task_outcomes`` names why.",
            "count",
            0.0,
        ),
        Metric(
            "honest_payment_fairness_tasks",
            "honest fairness tasks",
            "Tasks honest_payment_fairness averages.",
            "count",
            0.0,
        ),
        _fraction(
            "free_rider_share",
            "share of pay to free riders",
            "Share of the wei paid to contributors that reached free riders and plagiarists.",
        ),
        _fraction(
            "initiator_accuracy",
            "initiator's model accuracy",
            "Held-out test accuracy of the model the initiator obtains (``access_model``), "
            "over finalized tasks; a rejected task gives the initiator no model and counts "
            "0. An accepted task without an access_model row is left out.",
        ),
        _fraction(
            "initiator_accuracy_accepted",
            "initiator's model accuracy (accepted)",
            "The same over accepted tasks only (conditional on acceptance: raising the "
            "acceptance bar raises it by selection alone).",
        ),
        _fraction(
            "oracle_fused_accuracy",
            "oracle all-submissions fusion accuracy",
            "Held-out test accuracy of the oracle's fusion of all submissions "
            "(``ground_truth.truth``), over finalized tasks whatever their outcome.",
        ),
        _fraction(
            "oracle_fused_accuracy_accepted",
            "oracle fusion accuracy (accepted)",
            "The same over accepted tasks only.",
        ),
        Metric(
            "gas_per_task",
            "gas per task",
            "Gas of every transaction a task causes (see the module docstring) ÷ tasks created.",
            "gas",
            0.0,
        ),
        Metric(
            "gas_unattributed",
            "gas not attributed to a task",
            "Gas of transactions no task caused (registration, failed creations, "
            "withdrawals that cleared no task's credit).",
            "gas",
            0.0,
        ),
        _ether(
            "initiator_cost_per_accepted_task",
            "initiator cost per accepted task",
            "What the initiators spent in all (minus the sum of their net profits: rewards "
            "paid, gas, compute, less refunds and any slashed stakes they received) divided "
            "by the number of accepted tasks; NaN when no task was accepted. Negative when "
            "the initiators gained.",
        ),
        Metric("transactions", "transactions", "Transactions sent (tx rows).", "count", 0.0),
        Metric(
            "failed_transactions",
            "failed transactions",
            "Transactions whose receipt did not confirm success (ok not True).",
            "count",
            0.0,
        ),
        Metric("gas_total", "gas total", "Gas of all transactions.", "gas", 0.0),
        _ether("fees_wei", "fees", "Fees paid for all transactions.", 0.0),
        Metric("bytes_moved", "bytes moved", "Model uploads, fetches and data sent.", "bytes", 0.0),
        Metric(
            "epsilon_spent",
            "ε spent",
            "Mean privacy budget ε spent per DP-trained model (``privacy_spent``, Opacus's "
            "RDP accountant at the configured δ); NaN when no model was trained privately. "
            "Smaller is more private.",
            "ε",
            0.0,
        ),
        _fraction(
            "mia_auc_loss",
            "membership AUC (loss)",
            "Mean over audited published models of the loss-threshold attack's ROC AUC "
            "(``membership_audit``): 0.5 is a coin toss (no measurable leak), 1 tells every "
            "training sample apart; NaN without audits.",
        ),
        _fraction(
            "mia_auc_lira",
            "membership AUC (LiRA)",
            "The same for the offline likelihood-ratio attack (reference models).",
        ),
        _fraction(
            "mia_tpr_at_1pct_loss",
            "membership TPR@1%FPR (loss)",
            "Mean over audited published models of the loss attack's true-positive rate at "
            "1 % false positives (chance: 0.01).",
        ),
        _fraction(
            "mia_tpr_at_1pct_lira",
            "membership TPR@1%FPR (LiRA)",
            "The same for the offline LiRA.",
        ),
        _fraction(
            "mia_tpr_at_1pct_max",
            "worst membership TPR@1%FPR",
            "Largest true-positive rate at 1 % false positives over audited published models "
            "and attacks: the most exposed model.",
        ),
        _fraction(
            "mia_tpr_at_01pct_max",
            "worst membership TPR@0.1%FPR",
            "Largest true-positive rate at 0.1 % false positives over audited published "
            "models and attacks (chance: 0.001; with fewer than 1,000 non-members it is the "
            "rate at zero false positives).",
        ),
        _fraction(
            "mia_auc_fused_loss",
            "fused-model membership AUC (loss)",
            "Mean over accepted tasks of the loss attack's AUC against the fused model the "
            "initiator obtains (members drawn from every paid contributor's shard).",
        ),
        _fraction(
            "mia_auc_fused_lira",
            "fused-model membership AUC (LiRA)",
            "The same for the offline LiRA.",
        ),
    )
}
"""Every scalar metric of ``summarize`` (families by role or behaviour are in ``FAMILIES``)."""

FAMILIES: dict[str, Metric] = {
    m.name: m
    for m in (
        _ether(
            "net_profit_by_behaviour",
            "net profit",
            "Mean net profit per agent of the role and behaviour: end balance − start "
            "balance + credit still owed by the contract − compute cost − cost of capital "
            "of locked stakes.",
        ),
        _ether(
            "credit_owed_by_behaviour",
            "credit owed",
            "Mean credit per agent still in the contract at the end (counted in net profit).",
            0.0,
        ),
        Metric(
            "payout_time_first",
            "time to first withdrawal",
            "Mean over tasks of seconds from task creation to the first withdrawal that "
            "cleared credit of this role for the task.",
            "s",
            0.0,
        ),
        Metric(
            "payout_time_last",
            "time to last withdrawal",
            "Mean over tasks of seconds from task creation to the last such withdrawal "
            "(over the credit that was withdrawn; see unclaimed_credit_share).",
            "s",
            0.0,
        ),
        _ether(
            "unclaimed_credit_wei",
            "credit unclaimed",
            "Credit of agents of this role never withdrawn by the end of the run.",
            0.0,
        ),
        _fraction(
            "unclaimed_credit_share",
            "share of credit unclaimed",
            "Unclaimed ÷ credited wei, agents of this role.",
        ),
        _fraction(
            "strategy_share",
            "final strategy share",
            "With [adaptation]: share of the role's agents (every one that joined) playing "
            "the kind when the run ended.",
        ),
        Metric(
            "first_majority_s",
            "first majority",
            "With [adaptation]: simulated seconds until the kind first held more than half of "
            "the role (0: from the start; empty: never).",
            "s",
            0.0,
        ),
        Metric(
            "strategy_revisions",
            "strategy revisions",
            "With [adaptation]: strategy_revised events of the role (changes of kind).",
            "count",
            0.0,
        ),
    )
}
"""Metric families: ``<family>.<role>`` or ``<family>.<role>.<behaviour>``."""


def metric_info(name: str) -> Metric | None:
    """The registry entry of a (flattened) summary metric, None if unknown."""
    if name in METRICS:
        return METRICS[name]
    family, _, rest = name.partition(".")
    base = FAMILIES.get(family)
    if base is None or not rest:
        return None
    label = f"{base.label}: {rest.replace('.', ' ')}"
    return Metric(
        name, label, base.description, base.unit, base.low, base.high, base.scale, base.shown_unit
    )


def metric_range(name: str) -> tuple[float, float]:
    """(low, high) a metric's values can take; ±inf where unbounded or unknown."""
    info = metric_info(name)
    low = info.low if info is not None and info.low is not None else -math.inf
    high = info.high if info is not None and info.high is not None else math.inf
    return low, high


# ---------------------------------------------------------------- helpers


def _rows(events: pd.DataFrame, kind: str) -> pd.DataFrame:
    return events[events["kind"] == kind]


def wei_sum(values: pd.Series | Sequence[Any]) -> int:
    """Exact sum of a wei column (None/NaN ignored)."""
    return int(sum((Decimal(v) for v in values if v is not None and not _isnan(v)), Decimal(0)))


def _isnan(v: Any) -> bool:
    return isinstance(v, float) and math.isnan(v)


def _int(v: Any) -> int:
    return 0 if v is None or _isnan(v) else int(v)


def _exact_sum(values: pd.Series) -> int:
    return sum((int(v) for v in values), 0)


def _mean(values: Sequence[float] | pd.Series) -> float:
    x = [float(v) for v in values if v is not None and not math.isnan(float(v))]
    return float(np.mean(x)) if x else math.nan


def _ordered(events: pd.DataFrame) -> pd.DataFrame:
    """The table with ``seq``: each row's position (the recording order)."""
    return events.reset_index(drop=True).assign(seq=np.arange(len(events)))


# ---------------------------------------------------------------- tasks and accuracy


def tasks(events: pd.DataFrame) -> pd.DataFrame:
    """One row per created task: creation, reward, outcome, accuracies, fairness."""
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
        columns={"value": "honest_accuracy", "truth": "test_accuracy", "ok": "honest_accept"}
    )
    out = out.merge(truth, on="task", how="left")
    # the model the initiator holds in the end: its last access (an initiator that fetched
    # the submissions before paying, then paid after all, holds the paid one)
    access = (
        _rows(events, "access_model")[["task", "value"]]
        .groupby("task", as_index=False)
        .last()
        .rename(columns={"value": "initiator_model_accuracy"})
    )
    out = out.merge(access, on="task", how="left").reset_index(drop=True)
    out["initiator_accuracy"] = [
        _initiator_accuracy(a, m)
        for a, m in zip(out["accepted"], out["initiator_model_accuracy"], strict=True)
    ]
    fair = fairness_table(events).rename(columns={"dropped": "fairness_dropped"})
    fair = fair[["task", "payment_fairness", "honest_payment_fairness", "fairness_dropped"]]
    return out.merge(fair, on="task", how="left")


def _finalized(value: Any) -> bool:
    return value is not None and not _isnan(value) and value is not pd.NA


def _initiator_accuracy(accepted: Any, model: Any) -> float:
    """What the initiator got: its model's test accuracy; no model (rejected) counts 0."""
    if not _finalized(accepted):
        return math.nan
    if not bool(accepted):
        return 0.0
    return math.nan if model is None or _isnan(model) else float(model)


def _finalized_tasks(t: pd.DataFrame) -> pd.DataFrame:
    """The finalized rows of a ``tasks`` table."""
    return t[[_finalized(a) for a in t["accepted"]]]


def task_success_rate(events: pd.DataFrame) -> float:
    """Fraction of finalized tasks that were accepted (NaN if none finalized)."""
    return _success_rate(tasks(events))


def _success_rate(t: pd.DataFrame) -> float:
    done = _finalized_tasks(t)
    return float(done["accepted"].astype(bool).mean()) if len(done) else math.nan


def initiator_accuracy(events: pd.DataFrame, accepted_only: bool = False) -> float:
    """Mean held-out accuracy of the model the initiator obtains (see ``METRICS``)."""
    return _mean(_done(tasks(events), accepted_only)["initiator_accuracy"])


def oracle_fused_accuracy(events: pd.DataFrame, accepted_only: bool = False) -> float:
    """Mean held-out accuracy of the oracle's fusion of all submissions (see ``METRICS``)."""
    return _mean(_done(tasks(events), accepted_only)["test_accuracy"])


def _done(t: pd.DataFrame, accepted_only: bool) -> pd.DataFrame:
    done = _finalized_tasks(t)
    return done[done["accepted"].astype(bool)] if accepted_only else done


def wrong_outcome_rate(events: pd.DataFrame) -> float:
    """Fraction of finalized tasks whose outcome differs from an all-honest committee's."""
    return _wrong_outcome_rate(tasks(events))


def _wrong_outcome_rate(t: pd.DataFrame) -> float:
    judged = t[
        [
            _finalized(a) and _finalized(h)
            for a, h in zip(t["accepted"], t["honest_accept"], strict=True)
        ]
    ]
    if not len(judged):
        return math.nan
    wrong = judged["accepted"].astype(bool) != judged["honest_accept"].astype(bool)
    return float(wrong.mean())


# ---------------------------------------------------------------- fairness


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
    truth["honest_pay_wei"] = [_int(v) for v in truth["honest_pay_wei"]]
    return truth.reset_index(drop=True)


def contributions(events: pd.DataFrame) -> pd.DataFrame:
    """One row per submission of a finalized task: task, agent, behaviour, true_contribution
    (held-out), honest_pay_wei (what honest reports would have paid) and paid_wei."""
    return _contributions(events)


def share_fairness(pay: Sequence[int], truth: Sequence[float]) -> float:
    """1 − ½ Σ |pᵢ/Σp − φᵢ⁺/Σφ⁺| in [0, 1] (NaN without pay, or without a positive or
    known truth).

    Total variation between the pay shares and the shares of the positive true
    contributions: the fraction of the pay that would have to move to pay each
    contributor its share of what the contributors truly added. Scale-free (ether and
    accuracy points never meet) and bounded, unlike a rank correlation whose ranks are noise
    when true contributions are nearly equal.
    """
    phi = [float(v) if v is not None else math.nan for v in truth]
    total = sum(int(p) for p in pay)
    if total <= 0 or any(math.isnan(v) for v in phi):
        return math.nan
    positive = [max(v, 0.0) for v in phi]
    mass = sum(positive)
    if mass <= 0:
        return math.nan
    gap = sum(abs(int(p) / total - q / mass) for p, q in zip(pay, positive, strict=True))
    return max(0.0, min(1.0, 1.0 - gap / 2))


def fairness_table(events: pd.DataFrame) -> pd.DataFrame:
    """One row per finalized task: fairness of the pay and of the honest pay, and why a
    task is dropped from ``payment_fairness`` ('' when it is scored)."""
    c = _contributions(events)
    by_task = dict(tuple(c.groupby("task", sort=False)))  # one pass, not a filter per task
    empty = c.iloc[0:0]
    rows = []
    for task in _rows(events, "task_finalized")["task"]:
        g = by_task.get(task, empty)
        truth = list(g["true_contribution"])
        fair = share_fairness(list(g["paid_wei"]), truth)
        honest = share_fairness(list(g["honest_pay_wei"]), truth)
        rows.append(
            {
                "task": task,
                "submitters": len(g),
                "payment_fairness": fair,
                "honest_payment_fairness": honest,
                "dropped": "" if not math.isnan(fair) else _why_dropped(g),
            }
        )
    columns = ["task", "submitters", "payment_fairness", "honest_payment_fairness", "dropped"]
    return pd.DataFrame(rows, columns=columns)


def _why_dropped(g: pd.DataFrame) -> str:
    if not len(g):
        return "no submissions"
    if sum(int(p) for p in g["paid_wei"]) == 0:
        return "no pay"
    if g["true_contribution"].isna().any():
        return "true contribution unknown"
    return "no positive true contribution"


def payment_fairness(events: pd.DataFrame, honest: bool = False) -> float:
    """Mean share fairness over the tasks it is defined for (``honest``: of the honest pay)."""
    column = "honest_payment_fairness" if honest else "payment_fairness"
    return _mean(fairness_table(events)[column])


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
    return _attack_success_rate(tasks(events), _contributions(events), tolerance)


def _attack_success_rate(t: pd.DataFrame, c: pd.DataFrame, tolerance: float = 0.05) -> float:
    judged = t[
        [
            _finalized(a) and _finalized(h)
            for a, h in zip(t["accepted"], t["honest_accept"], strict=True)
        ]
    ]
    if not len(judged):
        return math.nan
    by_task = dict(tuple(c.groupby("task", sort=False)))
    empty = c.iloc[0:0]
    hits = 0
    for row in judged.to_dict("records"):
        g = by_task.get(row["task"], empty)
        pool = max(wei_sum(g["paid_wei"]), wei_sum(g["honest_pay_wei"]), 1)
        diff = sum(
            abs(int(p) - int(h)) for p, h in zip(g["paid_wei"], g["honest_pay_wei"], strict=True)
        )
        if bool(row["accepted"]) != bool(row["honest_accept"]) or diff / (2 * pool) > tolerance:
            hits += 1
    return hits / len(judged)


# ---------------------------------------------------------------- credit and payout time


def credits(events: pd.DataFrame) -> pd.DataFrame:
    """Every credit (paid, stake returned, refund) of more than 0 wei, with the withdrawal
    that cleared it: ``withdrawn_at`` (NaN if never) and ``withdrawal`` (its tx hash)."""
    ev = _ordered(events)
    credit = ev[ev["kind"].isin(CREDIT_KINDS)].copy()
    # object dtype: Python ints, so sums never wrap at int64 (wei amounts pass 9.2e18)
    credit["wei_int"] = pd.Series(
        [_int(v) for v in credit["wei"]], index=credit.index, dtype=object
    )
    credit = credit[credit["wei_int"] > 0]
    withdrawn = ev[ev["kind"] == "withdrawn"]
    # per agent its withdrawals in recording order; a credit is cleared by the first one
    # recorded after it (a binary search: a scan per credit made long runs quadratic)
    by_agent = {
        a: (g["seq"].to_numpy(), g["time"].to_numpy(dtype=float), g["tx_hash"].to_list())
        for a, g in withdrawn.sort_values("seq").groupby("agent")
    }
    at: list[float] = []
    hashes: list[str | None] = []
    for agent, seq in zip(credit["agent"], credit["seq"], strict=True):
        found = by_agent.get(agent)
        i = int(np.searchsorted(found[0], seq, side="right")) if found is not None else 0
        if found is None or i >= len(found[0]):
            at.append(math.nan)
            hashes.append(None)
        else:
            at.append(float(found[1][i]))
            hashes.append(found[2][i])
    credit["withdrawn_at"] = at
    credit["withdrawal"] = hashes
    columns = ["seq", "time", "kind", "agent", "role", "behaviour", "task", "wei_int"]
    return credit[[*columns, "withdrawn_at", "withdrawal"]].rename(columns={"wei_int": "wei"})


def payout_table(events: pd.DataFrame) -> pd.DataFrame:
    """One row per (task, role) with credit: created_at, first and last withdrawal of that
    credit, credited and unclaimed wei."""
    c = credits(events)
    created = _rows(events, "task_created").set_index("task")["time"]
    rows = []
    for (task, role), g in c.groupby(["task", "role"], sort=True):
        done = g["withdrawn_at"].dropna()
        rows.append(
            {
                "task": task,
                "role": role,
                "created_at": float(created.get(task, math.nan)),
                "first_withdrawal_at": float(done.min()) if len(done) else math.nan,
                "last_withdrawal_at": float(done.max()) if len(done) else math.nan,
                "credited_wei": _exact_sum(g["wei"]),
                "unclaimed_wei": _exact_sum(g[g["withdrawn_at"].isna()]["wei"]),
            }
        )
    columns = ["task", "role", "created_at", "first_withdrawal_at", "last_withdrawal_at"]
    return pd.DataFrame(rows, columns=[*columns, "credited_wei", "unclaimed_wei"])


def payout_time(events: pd.DataFrame, which: str = "first") -> dict[str, float]:
    """Mean seconds per role from task creation to the first (or last) withdrawal of the
    task's credit (tasks whose credit of that role was never withdrawn take no part)."""
    return _payout_time(payout_table(events), which)


def _payout_time(table: pd.DataFrame, which: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for role, g in table.groupby("role", sort=True):
        out[str(role)] = _mean(g[f"{which}_withdrawal_at"] - g["created_at"])
    return out


def unclaimed_credit(events: pd.DataFrame) -> dict[str, int]:
    """Wei credited to agents of each role and never withdrawn (credited − withdrawn)."""
    return _unclaimed_credit(agents(events))


def _unclaimed_credit(a: pd.DataFrame) -> dict[str, int]:
    return {str(r): int(sum(g["credit_owed_wei"])) for r, g in a.groupby("role", sort=True)}


def unclaimed_credit_share(events: pd.DataFrame) -> dict[str, float]:
    """Of the wei credited to each role, the share never withdrawn."""
    return _unclaimed_credit_share(agents(events))


def _unclaimed_credit_share(a: pd.DataFrame) -> dict[str, float]:
    out: dict[str, float] = {}
    for role, g in a.groupby("role", sort=True):
        credited = sum(int(v) for v in g["credited_wei"])
        if credited:
            out[str(role)] = sum(int(v) for v in g["credit_owed_wei"]) / credited
    return out


# ---------------------------------------------------------------- agents and profit


def agents(events: pd.DataFrame) -> pd.DataFrame:
    """One row per agent: role, behaviour, balances, payments, credit, stakes, gas, profit."""
    funded = _rows(events, "funded")[["agent", "role", "behaviour", "wei"]]
    funded = funded.rename(columns={"wei": "start_wei"})
    final = _rows(events, "balance")[["agent", "wei"]].rename(columns={"wei": "end_wei"})
    out = funded.merge(final, on="agent", how="left")
    names = out["agent"]
    out["paid_wei"] = _per_agent(events, "paid", "wei", names)
    out["slashed_wei"] = _per_agent(events, "slashed", "wei", names)
    out["refunded_wei"] = _per_agent(events, "refunded", "wei", names)
    out["stake_returned_wei"] = _per_agent(events, "stake_returned", "wei", names)
    out["withdrawn_wei"] = _per_agent(events, "withdrawn", "wei", names)
    out["credited_wei"] = [
        p + r + s
        for p, r, s in zip(
            out["paid_wei"], out["refunded_wei"], out["stake_returned_wei"], strict=True
        )
    ]
    out["credit_owed_wei"] = [
        max(c - w, 0) for c, w in zip(out["credited_wei"], out["withdrawn_wei"], strict=True)
    ]
    out["gas_fee_wei"] = _per_agent(events, "tx", "fee_wei", names)
    compute = _rows(events, "compute").groupby("agent")["value"].sum()
    out["compute_s"] = [float(compute.get(a, 0.0)) for a in names]
    out["compute_cost_wei"] = _per_agent(events, "compute", "wei", names)
    out["capital_cost_wei"] = _per_agent(events, "capital_cost", "wei", names)
    out["profit_wei"] = [
        int(Decimal(e) - Decimal(s)) if e is not None and not _isnan(e) else None
        for s, e in zip(out["start_wei"], out["end_wei"], strict=True)
    ]
    out["net_profit_wei"] = [
        None if p is None else p - c - k + owed
        for p, c, k, owed in zip(
            out["profit_wei"],
            out["compute_cost_wei"],
            out["capital_cost_wei"],
            out["credit_owed_wei"],
            strict=True,
        )
    ]
    return out.reset_index(drop=True)


def _per_agent(events: pd.DataFrame, kind: str, column: str, names: pd.Series) -> list[int]:
    rows = _rows(events, kind)
    # one pass over the rows (iterating pandas groups cost ~30 µs per agent: a minute for a
    # 100,000-agent run); exact integer sums, so the order of additions does not matter
    sums: dict[Any, int] = {}
    for agent, value in zip(rows["agent"], rows[column], strict=True):
        if value is not None and not _isnan(value):
            sums[agent] = sums.get(agent, 0) + int(Decimal(value))
    return [sums.get(a, 0) for a in names]


def _by_behaviour(a: pd.DataFrame, column: str) -> dict[str, dict[str, int]]:
    a = a[a[column].notna()]
    out: dict[str, dict[str, int]] = {}
    for (role, behaviour), g in a.groupby(["role", "behaviour"]):
        values = [int(v) for v in g[column]]
        out.setdefault(str(role), {})[str(behaviour)] = sum(values) // len(values)
    return out


def net_profit_by_behaviour(events: pd.DataFrame) -> dict[str, dict[str, int]]:
    """Mean net profit (wei) per agent of each behaviour, per role.

    Net profit = end balance − start balance + credit still owed by the contract − compute
    cost at the scenario's price per compute-second − the cost of capital of stakes while
    they were locked (``capital_cost`` rows; 0 unless ``costs.stake_rate_per_year``). End
    minus start balance already counts gas fees and stakes lost. Credit owed is money the
    agent earned and can still withdraw (``credit_owed_by_behaviour`` shows it alone). The
    honest kind sits beside the dishonest ones, so where lying pays shows directly.
    """
    return _by_behaviour(agents(events), "net_profit_wei")


def credit_owed_by_behaviour(events: pd.DataFrame) -> dict[str, dict[str, int]]:
    """Mean credit (wei) per agent still in the contract at the end, per role and behaviour."""
    return _by_behaviour(agents(events), "credit_owed_wei")


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


# ---------------------------------------------------------------- transactions and gas


def _tx(events: pd.DataFrame) -> pd.DataFrame:
    return _rows(_ordered(events), "tx")


def transactions(events: pd.DataFrame) -> int:
    """Transactions sent: every ``tx`` row."""
    return len(_rows(events, "tx"))


def failed_transactions(events: pd.DataFrame) -> int:
    """Transactions whose receipt did not confirm success (``ok`` False or missing)."""
    return int(sum(ok is not True and ok is not np.True_ for ok in _rows(events, "tx")["ok"]))


def task_gas(events: pd.DataFrame) -> dict[int, float]:
    """Gas each task caused (the module docstring's rule); withdrawals split by wei."""
    tx = _tx(events)
    gas: dict[int, float] = {}

    def add(task: Any, amount: float) -> None:
        gas[int(task)] = gas.get(int(task), 0.0) + amount

    call = tx["detail"].fillna("").astype(str)
    withdraw = call.str.startswith("withdraw")
    creates = tx[call.str.startswith("create_task") & tx["ok"].eq(True) & tx["task"].isna()]
    created = _rows(events, "task_created")
    for agent, g in creates.groupby("agent"):
        made = created[created["agent"] == agent]["task"]
        for amount, task in zip(g["gas"], made, strict=False):
            add(task, float(amount))
    for r in tx[~withdraw & tx["task"].notna()].to_dict("records"):
        add(r["task"], float(r["gas"]))
    # what each withdrawal cleared, in total and per task, summed once (exact integers)
    totals: dict[str, int] = {}
    per_task: dict[str, dict[Any, int]] = {}
    cleared = credits(events)
    for h, task, wei in zip(cleared["withdrawal"], cleared["task"], cleared["wei"], strict=True):
        if not isinstance(h, str):
            continue  # never withdrawn
        totals[h] = totals.get(h, 0) + int(wei)
        if not pd.isna(task):
            share = per_task.setdefault(h, {})
            share[task] = share.get(task, 0) + int(wei)
    for r in tx[withdraw].to_dict("records"):
        h = r["tx_hash"]
        total = totals.get(h, 0) if h else 0
        if total > 0:
            shares = per_task.get(h, {})
            for task in sorted(shares):  # as a groupby by task visits them
                add(task, float(r["gas"]) * shares[task] / total)
        elif _finalized(r["task"]):
            add(r["task"], float(r["gas"]))
    return gas


def gas_per_task(events: pd.DataFrame) -> float:
    """Gas of every transaction the tasks caused divided by the number of tasks created."""
    return _gas_per_task(events, task_gas(events))


def _gas_per_task(events: pd.DataFrame, gas: dict[int, float]) -> float:
    n = len(_rows(events, "task_created"))
    return sum(gas.values()) / n if n else math.nan


def gas_unattributed(events: pd.DataFrame) -> float:
    """Gas of transactions no task caused."""
    return _gas_unattributed(_rows(events, "tx"), task_gas(events))


def _gas_unattributed(tx: pd.DataFrame, gas: dict[int, float]) -> float:
    left = float(tx["gas"].fillna(0).sum()) - sum(gas.values())
    return round(left, 6) + 0.0  # splitting withdrawals by wei leaves float dust


# ---------------------------------------------------------------- the summary


# ---------------------------------------------------------------- privacy


ATTACK_SHORT = {"loss": "loss", "lira_offline": "lira"}
"""The metric suffix of each membership-inference attack."""


def membership_audits(events: pd.DataFrame) -> pd.DataFrame:
    """One row per audited model and attack: task, agent, role, behaviour, cid, attack,
    auc, tpr_at_1pct, tpr_at_01pct, candidates (``membership_audit`` rows; the initiator's
    rows are its fused model)."""
    rows = _rows(events, "membership_audit")
    columns = ["task", "agent", "role", "behaviour", "cid", "attack"]
    measures = ["auc", "tpr_at_1pct", "tpr_at_01pct", "candidates"]
    if rows.empty:
        return pd.DataFrame(columns=columns + measures)
    keyed = rows.assign(attack=rows["target"], cid=rows["cid"].fillna(""))
    wide = keyed.pivot_table(
        index=columns, columns="detail", values="value", aggfunc="last", sort=False
    ).reset_index()
    wide.columns.name = None
    return wide.reindex(columns=columns + measures)


def privacy_metrics(events: pd.DataFrame) -> dict[str, float]:
    """``epsilon_spent`` and the ``mia_*`` metrics (see ``METRICS``); NaN where unmeasured."""
    audits = membership_audits(events)
    models = audits[audits["role"] == "contributor"]
    fused = audits[audits["role"] == "initiator"]
    out = {"epsilon_spent": _mean(_rows(events, "privacy_spent")["value"])}
    for attack, short in ATTACK_SHORT.items():
        mine = models[models["attack"] == attack]
        out[f"mia_auc_{short}"] = _mean(mine["auc"])
        out[f"mia_tpr_at_1pct_{short}"] = _mean(mine["tpr_at_1pct"])
        out[f"mia_auc_fused_{short}"] = _mean(fused[fused["attack"] == attack]["auc"])
    for measure in ("tpr_at_1pct", "tpr_at_01pct"):
        values = [float(v) for v in models[measure] if not math.isnan(float(v))]
        out[f"mia_{measure}_max"] = max(values) if values else math.nan
    return out


def _audit_entry(r: dict[Any, Any]) -> dict[str, Any]:
    return {
        "task": int(r["task"]),
        "agent": r["agent"],
        "behaviour": r["behaviour"],
        "model": "fused" if r["role"] == "initiator" else r["cid"],
        "attack": r["attack"],
        "auc": _num(r["auc"]),
        "tpr_at_1pct": _num(r["tpr_at_1pct"]),
        "tpr_at_01pct": _num(r["tpr_at_01pct"]),
        "candidates": None if _num(r["candidates"]) is None else int(r["candidates"]),
    }


def _privacy_entries(events: pd.DataFrame) -> list[dict[str, Any]]:
    rows = _rows(events, "privacy_spent")
    return [
        {"task": int(r["task"]), "agent": r["agent"], "epsilon": _num(r["value"])}
        for r in rows.to_dict("records")
    ]


def summarize(events: pd.DataFrame) -> dict[str, Any]:
    """The metrics every run's summary.json carries (``METRICS`` and ``FAMILIES``)."""
    # the tasks, agents and payout tables once each (the fairness table is built again
    # here and inside tasks(): its row order feeds float means, so it is not re-derived;
    # task_gas once for gas_per_task and gas_unattributed);
    # the metrics below are the public functions' table-level halves
    t = tasks(events)
    a = agents(events)
    fair = fairness_table(events)
    payouts = payout_table(events)
    tx = _rows(events, "tx")
    gas = task_gas(events)
    return {
        "tasks": len(t),
        "tasks_finalized": len(_finalized_tasks(t)),
        "tasks_accepted": int(t["accepted"].fillna(False).astype(bool).sum()),
        "task_success_rate": _success_rate(t),
        "wrong_outcome_rate": _wrong_outcome_rate(t),
        "attack_success_rate": _attack_success_rate(t, _contributions(events)),
        "payment_fairness": _mean(fair["payment_fairness"]),
        "honest_payment_fairness": _mean(fair["honest_payment_fairness"]),
        "payment_fairness_tasks": int(fair["payment_fairness"].notna().sum()),
        "payment_fairness_dropped": int(fair["payment_fairness"].isna().sum()),
        "honest_payment_fairness_tasks": int(fair["honest_payment_fairness"].notna().sum()),
        "free_rider_share": free_rider_share(events),
        "net_profit_by_behaviour": _by_behaviour(a, "net_profit_wei"),
        "credit_owed_by_behaviour": _by_behaviour(a, "credit_owed_wei"),
        "initiator_accuracy": _mean(_done(t, False)["initiator_accuracy"]),
        "initiator_accuracy_accepted": _mean(_done(t, True)["initiator_accuracy"]),
        "oracle_fused_accuracy": _mean(_done(t, False)["test_accuracy"]),
        "oracle_fused_accuracy_accepted": _mean(_done(t, True)["test_accuracy"]),
        "gas_per_task": _gas_per_task(events, gas),
        "initiator_cost_per_accepted_task": initiator_cost(a, t),
        "gas_unattributed": _gas_unattributed(tx, gas),
        "payout_time_first": _payout_time(payouts, "first"),
        "payout_time_last": _payout_time(payouts, "last"),
        "unclaimed_credit_wei": _unclaimed_credit(a),
        "unclaimed_credit_share": _unclaimed_credit_share(a),
        "transactions": transactions(events),
        "failed_transactions": failed_transactions(events),
        "gas_total": int(tx["gas"].fillna(0).sum()),
        "fees_wei": wei_sum(tx["fee_wei"]),
        "bytes_moved": int(
            _rows(events, "model_uploaded")["bytes"].fillna(0).sum()
            + _rows(events, "model_fetched")["bytes"].fillna(0).sum()
            + _rows(events, "data_received")["bytes"].fillna(0).sum()
        ),
        **privacy_metrics(events),
        "task_outcomes": [_task_outcome(r) for r in t.to_dict("records")],
        "membership_audits": [
            _audit_entry(r) for r in membership_audits(events).to_dict("records")
        ],
        "privacy_spent": _privacy_entries(events),
        "agents": {str(r["agent"]): _agent_entry(r) for r in a.to_dict("records")},
    }


def initiator_cost(a: pd.DataFrame, t: pd.DataFrame) -> float:
    """Wei the initiators spent in all per accepted task (``initiator_cost_per_accepted_task``;
    ``a`` from ``agents``, ``t`` from ``tasks``)."""
    accepted = int(t["accepted"].fillna(False).astype(bool).sum()) if len(t) else 0
    if accepted == 0:
        return math.nan
    spent = -sum(_int(v) for v in a[a["role"] == "initiator"]["net_profit_wei"])
    return spent / accepted


def _task_outcome(r: dict[Any, Any]) -> dict[str, Any]:
    accepted = r["accepted"]
    return {
        "task": int(r["task"]),
        "template": r["template"],
        "accepted": bool(accepted) if _finalized(accepted) else None,
        "aggregate_accuracy": _num(r["aggregate_accuracy"]),
        "test_accuracy": _num(r["test_accuracy"]),
        "initiator_model_accuracy": _num(r["initiator_model_accuracy"]),
        "payment_fairness": _num(r["payment_fairness"]),
        "honest_payment_fairness": _num(r["honest_payment_fairness"]),
        "fairness_dropped": _reason(r["fairness_dropped"]),
    }


def _reason(v: Any) -> str | None:
    """Why a task is left out of payment_fairness (None when it is scored or unfinalized)."""
    return v if isinstance(v, str) and v else None


def _agent_entry(r: dict[Any, Any]) -> dict[str, Any]:
    end = r["end_wei"]
    return {
        "role": r["role"],
        "behaviour": r["behaviour"],
        "start_wei": int(r["start_wei"]),
        "end_wei": None if end is None or _isnan(end) else int(end),
        "paid_wei": int(r["paid_wei"]),
        "slashed_wei": int(r["slashed_wei"]),
        "credited_wei": int(r["credited_wei"]),
        "withdrawn_wei": int(r["withdrawn_wei"]),
        "credit_owed_wei": int(r["credit_owed_wei"]),
        "gas_fee_wei": int(r["gas_fee_wei"]),
        "compute_s": float(r["compute_s"]),
        "compute_cost_wei": int(r["compute_cost_wei"]),
        "capital_cost_wei": int(r["capital_cost_wei"]),
        "profit_wei": r["profit_wei"],
        "net_profit_wei": r["net_profit_wei"],
    }


def _num(v: Any) -> float | None:
    if v is None:
        return None
    f = float(v)
    return None if math.isnan(f) else f
