"""The deviation table on hand-built summaries: pairs, paired intervals, verdicts, chart."""

from __future__ import annotations

import math
from typing import Any

import pytest

from analysis.deviations import (
    ETHER,
    METHOD,
    Pair,
    chart_png,
    deviators,
    honesty_cost,
    page_html,
    paired_ci,
    pairs_table,
    region_png,
    region_row,
    verdict,
    verdicts,
)


def summary(
    run: str, lazy: bool, v1: float, others: float, accepted: bool = True
) -> dict[str, Any]:
    def agent(role: str, behaviour: str, ether: float) -> dict[str, Any]:
        return {"role": role, "behaviour": behaviour, "net_profit_wei": round(ether * ETHER)}

    return {
        "run_id": run,
        "task_success_rate": 1.0 if accepted else 0.0,
        "wrong_outcome_rate": 0.0 if accepted else 1.0,
        "task_outcomes": [
            {"task": 1, "accepted": accepted, "initiator_model_accuracy": 0.9 if accepted else None}
        ],
        "agents": {
            "initiator-0": agent("initiator", "honest", -5.0),
            "verifier-0": agent("verifier", "honest", others),
            "verifier-1": agent("verifier", "lazy" if lazy else "honest", v1),
            "verifier-2": agent("verifier", "honest", others),
        },
    }


def pairs(gains: list[float], kind: str = "lazy") -> list[Pair]:
    return [
        Pair(
            "verifier",
            kind,
            1,
            seed,
            summary(f"b{seed}", False, 1.0, 0.5),
            summary(f"d{seed}", True, 1.0 + g, 0.4, accepted=seed % 2 == 0),
        )
        for seed, g in enumerate(gains)
    ]


def test_the_deviator_is_the_agent_whose_behaviour_changed() -> None:
    base = summary("b", False, 1.0, 0.5)
    assert deviators(base, summary("d", True, 2.0, 0.5)) == ["verifier-1"]
    assert deviators(base, base) == []


def test_pair_rows_measure_gain_and_effects() -> None:
    table = pairs_table(pairs([0.25, 0.5]))
    first = table.iloc[0]
    assert first["deviators"] == "verifier-1"
    assert first["profit_honest"] == pytest.approx(1.0)
    assert first["gain"] == pytest.approx(0.25)
    assert first["others_profit_change"] == pytest.approx(-0.1)
    assert first["initiator_profit_base"] == pytest.approx(-5.0)
    second = table.iloc[1]
    assert second["tasks_outcome_changed"] == 1
    assert math.isnan(second["model_accuracy_deviant"])
    assert second["wrong_outcome_deviant"] == 1.0


def test_paired_t_interval_matches_the_textbook() -> None:
    n, mean, low, high = paired_ci([1.0, 2.0, 3.0])
    assert (n, mean) == (3, 2.0)
    assert high - mean == pytest.approx(4.302652729911275 * 1.0 / math.sqrt(3))
    assert low == pytest.approx(2 * mean - high)
    assert math.isnan(paired_ci([4.0])[2])


def test_verdicts_follow_the_interval() -> None:
    assert verdict(0.1, 0.3) == "profitable"
    assert verdict(-0.3, -0.1) == "unprofitable"
    assert verdict(-0.1, 0.1) == "inconclusive"
    assert verdict(math.nan, math.nan) == "inconclusive"
    rows = verdicts(
        pairs_table(pairs([0.2, 0.3, 0.25, 0.22]) + pairs([-1.0, -1.1, -0.9], "offline"))
    )
    by = {r["kind"]: r for r in rows}
    assert by["lazy"]["verdict"] == "profitable"
    assert by["offline"]["verdict"] == "unprofitable"
    assert by["lazy"]["n"] == 4 and by["lazy"]["method"] == METHOD
    assert "few" in by["lazy"]["note"]
    assert by["lazy"]["effects"]["task_success"] == [1.0, 0.5]
    assert verdicts(pairs_table(pairs([0.2])))[0]["verdict"] == "inconclusive"


def test_chart_and_page_state_method_and_n() -> None:
    rows = verdicts(pairs_table(pairs([0.2, 0.3, 0.25])))
    png = chart_png(rows)
    assert png.startswith(b"\x89PNG")
    page = page_html("t", rows, [{"role": "verifier", "kind": "copycat", "reason": "no report"}])
    assert "t interval" in page and "<td>3</td>" in page and "copycat: no report" in page


def test_the_region_marks_where_no_deviation_pays() -> None:
    cost = {"tasks_accepted": 2, "initiator_cost_per_accepted_task": 2.5 * ETHER}
    base = summary("b", False, 1.0, 0.5) | cost
    assert honesty_cost([base, base]) == pytest.approx(2.5)
    none = {"tasks_accepted": 0, "initiator_cost_per_accepted_task": float("nan")}
    assert honesty_cost([summary("b", False, 1.0, 0.5) | none]) is None
    params = ("stake",)
    table = pairs_table(
        [Pair(p.role, p.kind, 1, p.seed, p.base, p.deviant, {"stake": 0.0}) for p in pairs([1, 2])]
        + [Pair(p.role, p.kind, 1, p.seed, p.base, p.deviant, {"stake": 1.0})
           for p in pairs([-1, -2, -1.5])],
        params,
    )  # fmt: skip
    rows = verdicts(table, params)
    assert [(r["point"], r["verdict"]) for r in rows] == [
        ({"stake": 0.0}, "inconclusive"),
        ({"stake": 1.0}, "unprofitable"),
    ]
    open_cell = region_row({"stake": 0.0}, rows[:1], [], None)
    assert open_cell["honest"] and not open_cell["settled"]
    assert region_row({"stake": 1.0}, rows[1:], [], 2.5)["settled"]
    png = region_png([open_cell, region_row({"stake": 1.0}, rows[1:], [], 2.5)], params, 3)
    assert png.startswith(b"\x89PNG")
