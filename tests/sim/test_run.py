"""End to end: a whole honest market on real data, real training and the real EVM."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest

from contracts.settlement import Aggregation, Report, Rules, settle
from contracts.units import BPS, PPM, Address, Wei
from sim.cli import main
from sim.runner import LiveRun, RunResult, load_population, run

TINY = Path(__file__).resolve().parents[1] / "data" / "tiny.toml"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def result(tmp_path_factory: pytest.TempPathFactory) -> RunResult:
    return run(TINY, 0, out=tmp_path_factory.mktemp("tiny"))


def rows(events: pd.DataFrame, kind: str) -> pd.DataFrame:
    return events[events["kind"] == kind]


def wei(values: pd.Series) -> int:
    return int(sum((Decimal(v) for v in values if v is not None), Decimal(0)))


def test_the_task_completes_and_is_accepted(result: RunResult) -> None:
    assert result.summary["status"] == "completed"
    (outcome,) = result.summary["task_outcomes"]
    assert outcome["accepted"] is True
    assert outcome["aggregate_accuracy"] >= 0.5  # the task's MAFR
    assert 0.5 < outcome["test_accuracy"] <= 1.0
    assert outcome["initiator_model_accuracy"] > 0.5


def test_every_contributor_with_positive_contribution_is_paid(result: RunResult) -> None:
    """Settle the task again from the revealed reports in the event table (with the Python
    reference of the contract's rules): exactly the submissions with a positive aggregate
    score are paid, each its exact share of the contributors' pool."""
    ev = result.events
    submitted = rows(ev, "model_submitted").sort_values("time")
    assert set(submitted["agent"]) == {"contributor-0", "contributor-1", "contributor-2"}
    task = result.scenario.tasks[0]
    rules = Rules(
        mafr_bps=round(task.mafr * BPS),
        verifier_share_bps=round(task.verifier_share * BPS),
        aggregation=Aggregation[task.aggregation.upper()],
        trim_bps=round(task.trim_fraction * BPS),
    )
    n = len(submitted)
    reports = {}
    for name, group in rows(ev, "score").groupby("agent"):
        (accuracy,) = rows(ev, "reported").query("agent == @name")["value"]
        ordered = group.sort_values("detail", key=lambda d: d.str.split().str[1].astype(int))
        scores = tuple(max(-PPM, min(PPM, round(v * PPM))) for v in ordered["value"])
        reports[Address(str(name))] = Report(round(accuracy * PPM), scores)
    committee = [Address(str(a)) for a in rows(ev, "selected")["agent"]]
    expected = settle(rules, Wei(task.reward), committee, reports, n)
    assert expected.accepted
    paid = rows(ev, "paid")
    paid = paid[paid["role"] == "contributor"].set_index("agent")
    index_of = {r.target: int(str(r.detail).split()[1]) for r in rows(ev, "score").itertuples()}
    for name in submitted["agent"]:
        m = index_of[name]
        if expected.aggregate_scores_ppm[m] > 0:
            assert int(Decimal(paid.loc[name, "wei"])) == expected.contributor_pay[m] > 0
            assert round(paid.loc[name, "value"] * PPM) == expected.aggregate_scores_ppm[m]
        else:
            assert name not in paid.index


def test_balances_follow_from_the_recorded_flows(result: RunResult) -> None:
    """Each agent's end balance = start − value sent − fees + withdrawals, exactly."""
    ev = result.events
    for name, info in result.summary["agents"].items():
        mine = ev[ev["agent"] == name]
        tx = rows(mine, "tx")
        sent = wei(tx[tx["ok"].astype(bool)]["wei"])
        expected = (
            info["start_wei"] - sent - wei(tx["fee_wei"]) + wei(rows(mine, "withdrawn")["wei"])
        )
        assert info["end_wei"] == expected, name


def test_money_in_equals_money_out(result: RunResult) -> None:
    """Escrow + stakes = payouts + refunds + stakes returned; every credit withdrawn."""
    ev = result.events
    tx = rows(ev, "tx")
    into_market = wei(
        tx[tx["ok"].astype(bool) & tx["detail"].isin(["create_task", "register_verifier"])]["wei"]
    )
    credited = (
        wei(rows(ev, "paid")["wei"])
        + wei(rows(ev, "refunded")["wei"])
        + wei(rows(ev, "stake_returned")["wei"])
    )
    assert into_market == credited
    assert wei(rows(ev, "withdrawn")["wei"]) == credited
    assert result.summary["market_balance_wei"] == 0


def test_ground_truth_sits_beside_claims(result: RunResult) -> None:
    ev = result.events
    truth = rows(ev, "true_contribution")
    assert len(truth) == 3
    assert truth["truth"].notna().all()
    reports = rows(ev, "reported")
    assert len(reports) == 3
    assert (reports["value"] == reports["truth"]).all()  # honest verifiers report the truth
    assert rows(ev, "ground_truth")["ok"].astype(bool).all()


def test_outputs_are_written_and_readable_with_pandas(result: RunResult) -> None:
    out = result.out_dir
    assert out is not None
    events = pd.read_parquet(out / "events.parquet")
    pd.testing.assert_frame_equal(events, result.events)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["run_id"] == result.run_id
    for key in ("task_success_rate", "initiator_accuracy", "gas_per_task", "payout_time_first"):
        assert key in summary
    series = pd.read_parquet(out / "series.parquet")
    assert {"time", "online_verifiers", "market_balance_ether"} <= set(series.columns)
    assert len(series) >= 2


def test_same_seed_same_table_other_seed_other_table(result: RunResult) -> None:
    again = run(TINY, 0)
    pd.testing.assert_frame_equal(again.events, result.events)
    other = run(TINY, 1)
    assert not other.events.equals(result.events)
    assert set(other.events["run_id"]) != set(result.events["run_id"])


def test_cli_run_prints_a_summary(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "cli"
    assert (
        main(["run", str(TINY), "--out", str(out), "--quiet", "--set", "tasks[0].mafr=0.99"]) == 0
    )
    text = capsys.readouterr().out
    assert "rejected" in text  # no fused CNN of this size reaches 99 %
    assert (out / "events.parquet").exists()
    summary = json.loads((out / "summary.json").read_text())
    assert summary["task_outcomes"][0]["accepted"] is False
    initiator = summary["agents"]["initiator-0"]
    assert initiator["profit_wei"] < 0
    assert -initiator["profit_wei"] < 6 * 10**18  # refunded all but the verifiers' share


def test_same_table_in_fresh_processes_with_different_hash_seeds(
    tmp_path: Path, result: RunResult
) -> None:
    """Nothing may depend on set order, object ids or hash randomisation, nor on what earlier
    work left in this process (in the whole suite, the LocalClusters of earlier modules)."""
    import os
    import subprocess
    import sys

    for hash_seed in ("1", "2"):
        out = tmp_path / f"h{hash_seed}"
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        cmd = [
            sys.executable,
            "-m",
            "sim",
            "run",
            str(TINY),
            "--seed",
            "0",
            "--out",
            str(out),
            "--quiet",
        ]
        subprocess.run(cmd, env=env, check=True, capture_output=True)
        pd.testing.assert_frame_equal(pd.read_parquet(out / "events.parquet"), result.events)


def test_sim_run_is_the_python_api() -> None:
    import sim
    import sim.runner

    assert sim.run is sim.runner.run
    assert sim.RunResult is sim.runner.RunResult


def test_a_run_advanced_in_steps_gives_the_same_tables(result: RunResult, tmp_path: Path) -> None:
    """``baasim dashboard`` advances a run by intervals of simulated time: the SimPy clock
    stays the only clock, so the events and series are those of the run in one go."""
    scenario = result.scenario
    live = LiveRun.start(scenario, 0, tmp_path, load_population(scenario.population.plugin))
    steps = 0
    while not live.advance(300.0):
        steps += 1
        assert steps < 100, "the run never ended"
    assert live.advance(300.0)  # an ended run stays ended
    stepped = live.finish(keep=False)
    columns = [c for c in result.events.columns if c != "run_id"]
    pd.testing.assert_frame_equal(stepped.events[columns], result.events[columns])
    pd.testing.assert_frame_equal(stepped.series, result.series)
    assert steps >= 3


def test_baasim_demo_runs_a_scenario_with_the_run_commands_defaults(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The README's first command: `baasim demo` goes through `baasim run` with every one of
    its options at its default."""
    from sim.cli import main

    out = tmp_path / "demo"
    assert main(["demo", "--scenario", str(TINY), "--seed", "0", "--out", str(out)]) == 0
    assert (out / "events.parquet").is_file() and (out / "summary.json").is_file()
    assert "baasim demo: running" in capsys.readouterr().out
