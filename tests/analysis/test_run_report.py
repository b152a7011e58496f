"""The report of one run: its views of the tables, its figures, and the page in Chromium."""

from __future__ import annotations

import io
import math
import re
import shutil
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from analysis import metrics, run_tables
from analysis.report import Report
from analysis.run_report import FIGURES, render_run_report
from sim.cli import main

FIGURE_FILES = [name for name, _, _ in FIGURES]
TINY = Path(__file__).resolve().parents[1] / "data" / "tiny.toml"


@pytest.fixture(scope="module")
def events(run_dir: Path) -> pd.DataFrame:
    return run_tables.read_run(run_dir).events


def test_phases_follow_each_tasks_events(events: pd.DataFrame) -> None:
    phases = run_tables.task_phases(events)
    one = {
        str(r["phase"]): (r["start"], r["end"]) for r in phases.to_dict("records") if r["task"] == 1
    }
    assert list(one) == [
        "open",
        "submissions",
        "draw",
        "commit",
        "reveal",
        "finalize",
        "payouts",
    ]
    first_submission = events[(events["kind"] == "model_submitted") & (events["task"] == 1)]
    assert one["open"][0] == 12.0
    assert one["open"][1] == one["submissions"][0] == first_submission["time"].min()
    assert one["draw"] == (1824.0, 1824.0)
    assert one["commit"] == (1824.0, 2736.0)
    assert one["reveal"] == (2736.0, 3348.0)
    assert one["finalize"] == (3348.0, 3348.0)
    # payouts end at the last withdrawal of the task's credit ...
    withdrawals = events[(events["kind"] == "withdrawn") & (events["time"] < 3600)]
    assert one["payouts"] == (3348.0, withdrawals["time"].max())
    # ... or run to the end while some is owed (contributor-1's last pay)
    last = phases[(phases["task"] == 3) & (phases["phase"] == "payouts")]
    assert last["end"].iloc[0] == events["time"].max()
    status = run_tables.task_status(events, now=3000.0)
    assert status.set_index("task").loc[1, "phase"] == "reveal"
    assert run_tables.task_status(events).set_index("task").loc[1, "phase"] == "paid out"


def test_sessions_close_on_leaving_and_open_on_arrival(events: pd.DataFrame) -> None:
    s = run_tables.sessions(events)
    end = events["time"].max()
    one = s[s["agent"] == "verifier-1"][["start", "end"]].to_numpy().tolist()
    assert one == [[0.0, 1000.0], [2500.0, end]]
    assert s[s["agent"] == "verifier-new"][["start", "end"]].to_numpy().tolist() == [[3030.0, end]]
    picked = run_tables.sample_agents(s, 3)
    assert len(picked) == 3 and {"verifier-1", "verifier-new"} <= set(picked)


def test_profit_parts_sum_to_net_profit(events: pd.DataFrame) -> None:
    parts = run_tables.profit_parts(events)
    total = parts[list(run_tables.PROFIT_PARTS)].sum(axis=1)
    assert (total - parts["net_profit"]).abs().max() < 1e-9
    agents = {str(a["agent"]): a for a in metrics.agents(events).to_dict("records")}
    for row in parts[parts["behaviour"] == "lazy"].to_dict("records"):
        agent = agents[str(row["agent"])]
        assert row["stake_lost"] == -int(agent["slashed_wei"]) / 1e18 < 0
        assert math.isclose(row["net_profit"], int(agent["net_profit_wei"]) / 1e18)
    initiator = parts[parts["role"] == "initiator"].iloc[0]
    assert initiator["other"] < 0  # the escrow it spent on pay


def test_flows_add_up_to_each_roles_change_in_balance(events: pd.DataFrame) -> None:
    moved = run_tables.flows(events).iloc[-1]
    agents = metrics.agents(events)
    for role, column in run_tables.ROLE_COLUMNS.items():
        mine = agents[agents["role"] == role]
        change = sum(
            int(e) - int(s) for e, s in zip(mine["end_wei"], mine["start_wei"], strict=True)
        )
        assert math.isclose(moved[column], change / 1e18, abs_tol=1e-9)


def test_claims_and_pay_shares_sit_beside_the_truth(run_dir: Path, events: pd.DataFrame) -> None:
    run = run_tables.read_run(run_dir)
    claims = run_tables.claims(events, run_tables.mafr_by_task(events, run.scenario))
    assert set(claims["mafr"]) == {0.8}
    lazy = claims[claims["behaviour"] == "lazy"]
    assert (lazy["reported"] == 0.9).all() and (lazy["honest"] != 0.9).all()
    honest = claims[claims["behaviour"] == "honest"]
    assert (honest["reported"] == honest["honest"]).all()
    shares = run_tables.pay_shares(events)
    sums = shares.groupby("task")[["pay_share", "truth_share"]].sum()
    assert ((sums - 1.0).abs() < 1e-9).all().all()
    rider = shares[shares["behaviour"] == "free_rider"]
    assert (rider["truth_share"] == 0.0).all() and (rider["pay_share"] > 0).all()


def test_gas_by_function_and_transactions_per_block(events: pd.DataFrame) -> None:
    gas = run_tables.gas_by_function(events).set_index("function")
    tx = events[events["kind"] == "tx"]
    assert gas["gas"].sum() == tx["gas"].sum()
    assert gas.loc["submit_model", "failed"] == 1
    assert gas.loc["submit_model", "failed_gas"] == 40_000
    blocks = run_tables.transactions_per_block(events)
    assert blocks["transactions"].sum() == len(tx)
    assert blocks["time"].is_monotonic_increasing


@pytest.fixture(scope="module")
def report(run_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Report:
    return render_run_report(run_dir, tmp_path_factory.mktemp("out"))


@pytest.fixture(scope="module")
def copied(run_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The run directory copied elsewhere, and its report written there by ``baasim report``."""
    copy = tmp_path_factory.mktemp("elsewhere") / "copied"
    shutil.copytree(run_dir, copy)
    assert main(["report", str(copy)]) == 0
    return copy / "report" / "index.html"


def test_the_report_has_every_figure_and_the_tables(report: Report) -> None:
    for name in FIGURE_FILES:
        assert report.files[name][:8] == b"\x89PNG\r\n\x1a\n", name
        assert len(report.files[name]) > 10_000, name
    page = report.files["index.html"].decode()
    assert re.findall(r'<img src="([^"]+)"', page) == FIGURE_FILES
    assert "Run: synthetic" in page and 'class="note"' not in page
    assert "payment_fairness" in page and "free_rider_share" in page  # the metrics table
    assert "mafr = 0.8" in page  # the scenario as run
    tasks = pd.read_csv(io.BytesIO(report.files["tasks.csv"]))
    assert list(tasks["task"]) == [1, 2, 3]
    agents = pd.read_csv(io.BytesIO(report.files["agents.csv"]))
    assert {"net_profit_ether", "stake_lost_ether", "pay_ether"} <= set(agents.columns)


def test_a_copied_run_directory_gives_the_same_figures(report: Report, copied: Path) -> None:
    for name in FIGURE_FILES:
        assert (copied.parent / name).read_bytes() == report.files[name], name
    page = copied.read_text()
    assert 'href="../events.parquet"' in page and 'href="../scenario.toml"' in page


def test_a_run_without_series_or_scenario_says_what_is_missing(
    run_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bare = tmp_path / "bare"
    bare.mkdir()
    shutil.copy(run_dir / "events.parquet", bare)
    assert main(["report", str(bare), "--out", str(tmp_path / "out")]) == 0
    assert f"report: {tmp_path / 'out' / 'index.html'}" in capsys.readouterr().out
    page = (tmp_path / "out" / "index.html").read_text()
    assert "no series.parquet" in page and "has no scenario.toml" in page
    assert "computed from events.parquet" in page
    assert main(["report", str(tmp_path)]) == 2
    assert "neither a sweep directory" in capsys.readouterr().err


@pytest.mark.browser
def test_the_run_report_renders_in_headless_chromium(
    copied: Path, render_dom: Callable[[Path], str]
) -> None:
    dom = render_dom(copied)
    n = len(FIGURE_FILES)
    assert f'data-images-loaded="{n}/{n}"' in dom
    assert '<p class="missing">' not in dom
    (copied.parent / "claims.png").unlink()
    dom = render_dom(copied)
    assert f'data-images-loaded="{n - 1}/{n}"' in dom and "figure missing: claims.png" in dom


@pytest.mark.slow
@pytest.mark.browser
def test_baasim_run_report_on_a_real_run(
    tmp_path: Path, render_dom: Callable[[Path], str], capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "tiny"
    assert main(["run", str(TINY), "--seed", "0", "--out", str(out), "--quiet", "--report"]) == 0
    assert f"report: {out / 'report' / 'index.html'}" in capsys.readouterr().out
    assert (out / "scenario.toml").is_file()
    dom = render_dom(out / "report" / "index.html")
    n = len(FIGURE_FILES)
    assert f'data-images-loaded="{n}/{n}"' in dom
    assert "Run: tiny" in dom and "mafr = 0.5" in dom
