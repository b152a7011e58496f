"""``baasim tune`` and ``baasim sensitivity`` on real runs of the tiny market.

The tune's answer is known by construction (tests/data/tune_reward.toml: the initiator's
cost grows with the reward, and the constraint that each honest contributor nets 1 ether
first holds at a reward of 4 ether on the grid). The sensitivity construction varies the
reward, which moves every payment, and the verifiers' cost of capital, which by the
ledger's rule charges verifiers only: the initiator's cost cannot depend on it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from sim.errors import ConfigError
from sim.sweep import LocalExecutor
from sim.sweep.sensitivity import load_sensitivity, run_sensitivity
from sim.sweep.tune import TuneStatus, load_tune, run_tune

HERE = Path(__file__).resolve().parent
DATA = HERE.parent / "data"
ROOT = HERE.parents[1]
TUNE = DATA / "tune_reward.toml"
REWARD = "tasks[0].reward_ether"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def tuned(tmp_path_factory: pytest.TempPathFactory) -> tuple[TuneStatus, Path]:
    out = tmp_path_factory.mktemp("tune") / "out"
    status = run_tune(load_tune(str(TUNE)), out, LocalExecutor(1), threads=1, progress=False)
    return status, out


def test_tune_finds_the_optimum_known_by_construction(tuned: tuple[TuneStatus, Path]) -> None:
    status, out = tuned
    assert status.trials == 16
    assert len(status.best) == 1
    best = status.best[0]
    assert best[REWARD] == 4.0  # the cheapest reward that pays each contributor 1 ether
    assert best["feasible"] is True
    assert best["objective.initiator_cost_per_accepted_task"] == pytest.approx(4.0, abs=0.01)
    trials = pd.read_parquet(out / "trials.parquet")
    assert set(trials["state"]) == {"COMPLETE"}
    # the constraint binds: every cheaper reward that was tried is infeasible
    cheaper = trials[trials[REWARD] < 4.0]
    assert not cheaper.empty and not cheaper["feasible"].any()
    assert (trials.loc[trials["feasible"], REWARD] >= 4.0).all()


def test_a_trial_asked_twice_runs_once(tuned: tuple[TuneStatus, Path]) -> None:
    _, out = tuned
    trials = pd.read_parquet(out / "trials.parquet")
    runs = pd.read_parquet(out / "runs.parquet")
    assert trials[REWARD].nunique() == len(runs) < len(trials)
    assert runs["run_id"].is_unique
    assert set(runs[REWARD]) == set(trials[REWARD])


@pytest.mark.browser
def test_the_tune_report_shows_best_history_importances_and_trials(
    tuned: tuple[TuneStatus, Path], render_dom: Callable[[Path], str]
) -> None:
    _, out = tuned
    page = out / "report" / "index.html"
    dom = render_dom(page)
    assert 'data-images-loaded="2/2"' in dom  # history and importances
    for heading in ("Best", "Figures", "Parameter importances", "Trials", "Definition"):
        assert f">{heading}</h2>" in dom
    record = json.loads((out / "tune.json").read_text())
    assert set(record["importances"]["initiator_cost_per_accepted_task"]) == {REWARD}


def test_an_interrupted_tune_resumes_without_losing_a_trial(tmp_path: Path) -> None:
    out = tmp_path / "out"
    command = [
        sys.executable, "-m", "sim", "tune", str(TUNE), "--out", str(out),
        "--trials", "5", "--workers", "1", "--threads", "1", "--quiet",
    ]  # fmt: skip
    first = subprocess.Popen(
        command, cwd=ROOT, start_new_session=True, stdout=subprocess.PIPE, text=True
    )
    deadline = time.monotonic() + 600
    while _complete(out) < 2 and first.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    os.killpg(first.pid, signal.SIGINT)
    output, _ = first.communicate(timeout=120)
    assert first.returncode == 130, output
    assert "Run the same command again to resume" in output
    before = pd.read_parquet(out / "trials.parquet")
    done = before[before["state"] == "COMPLETE"]
    assert 2 <= len(done) < 5
    mtimes = {p.name: p.stat().st_mtime_ns for p in (out / "runs").iterdir()}

    second = subprocess.run(
        command, cwd=ROOT, capture_output=True, text=True, timeout=900, check=False
    )
    assert second.returncode == 0, second.stderr
    after = pd.read_parquet(out / "trials.parquet")
    assert list(after["trial"]) == [0, 1, 2, 3, 4]
    assert set(after["state"]) == {"COMPLETE"}
    kept = after.set_index("trial").loc[done["trial"]]
    assert list(kept[REWARD]) == list(done[REWARD])
    objective = "objective.initiator_cost_per_accepted_task"
    assert list(kept[objective]) == list(done[objective])
    for name, mtime in mtimes.items():  # finished runs are not run again
        assert (out / "runs" / name).stat().st_mtime_ns == mtime


def test_a_batch_of_trials_runs_in_parallel_on_kept_workers_and_resumes(tmp_path: Path) -> None:
    """batch = 2 on 2 workers: two trials per sweep round, the workers started once for the
    whole study; each trial's objective is its own point's run; re-running the finished study
    changes nothing, and extending it keeps every earlier trial."""
    path = tmp_path / "batch.toml"
    text = TUNE.read_text().replace("batch = 1", "batch = 2").replace("startup_trials = 6", "")
    path.write_text(text.replace('"tiny.toml"', f'"{DATA / "tiny.toml"}"'))
    spec = load_tune(str(path))
    out = tmp_path / "out"
    executor = LocalExecutor(2)
    status = run_tune(spec, out, executor, trials=4, threads=1, progress=False)
    assert (status.trials, status.ran) == (4, 4)
    assert executor.started == 2  # kept for both batches, not started per batch
    first = pd.read_parquet(out / "trials.parquet")
    assert list(first["trial"]) == [0, 1, 2, 3]
    assert set(first["state"]) == {"COMPLETE"}
    runs = pd.read_parquet(out / "runs.parquet").set_index(REWARD)
    objective = "objective.initiator_cost_per_accepted_task"
    for row in first.to_dict("records"):  # no trial told another's result
        cost = runs.loc[row[REWARD], "initiator_cost_per_accepted_task"] / 1e18
        assert row[objective] == pytest.approx(cost)

    again = run_tune(spec, out, LocalExecutor(2), trials=4, threads=1, progress=False)
    assert (again.trials, again.ran) == (4, 0)
    pd.testing.assert_frame_equal(pd.read_parquet(out / "trials.parquet"), first)

    more = run_tune(spec, out, LocalExecutor(2), trials=6, threads=1, progress=False)
    assert (more.trials, more.ran) == (6, 2)
    after = pd.read_parquet(out / "trials.parquet")
    assert list(after["trial"]) == list(range(6)) and set(after["state"]) == {"COMPLETE"}
    pd.testing.assert_frame_equal(after.iloc[:4], first)


def _complete(out: Path) -> int:
    try:
        trials = pd.read_parquet(out / "trials.parquet")
    except (OSError, ValueError):
        return 0
    return int((trials["state"] == "COMPLETE").sum())


def test_sensitivity_gives_an_index_covering_zero_to_a_parameter_without_effect(
    tmp_path: Path,
) -> None:
    path = tmp_path / "s.toml"
    path.write_text(
        f'scenario = "{DATA / "tiny.toml"}"\nseeds = [0]\nmethod = "sobol"\nsamples = 4\n'
        'outputs = ["initiator_cost_per_accepted_task", '
        '"net_profit_by_behaviour.verifier.honest"]\n'
        f'[[param]]\nkey = "{REWARD}"\nlow = 2.0\nhigh = 8.0\n'
        '[[param]]\nkey = "costs.stake_rate_per_year"\nlow = 0.0\nhigh = 2000.0\n'
    )
    status = run_sensitivity(
        load_sensitivity(str(path)), tmp_path / "out", LocalExecutor(1), threads=1, progress=False
    )
    idx = status.indices.set_index(["output", "parameter"])
    cost = idx.loc["initiator_cost_per_accepted_task"]
    rate = cost.loc["costs.stake_rate_per_year"]
    for key in ("S1", "ST"):  # the rate cannot move the initiator's cost: CI covers 0
        assert rate[key] - rate[f"{key}_conf"] <= 0 <= rate[key] + rate[f"{key}_conf"]
        assert rate[key] == 0.0  # exactly: changing only the rate leaves the cost unchanged
    # the reward moves the cost (4 base samples leave its interval wide: no claim on it)
    assert cost["ST"][REWARD] > 0
    verifier = idx.loc["net_profit_by_behaviour.verifier.honest"]
    assert verifier["ST"]["costs.stake_rate_per_year"] > 0  # capital cost moves it
    assert (tmp_path / "out" / "report" / "index.html").is_file()
    assert status.samples == 16 and status.runs == 16


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[[param]]\nkey = "tasks[0].reward_ether"\nlow = 5.0\nhigh = 1.0\n', "param[0].high"),
        ('[[param]]\nkey = "tasks[0].nope"\nlow = 1.0\nhigh = 2.0\n', "param[0] (tasks[0].nope)"),
        ('[[param]]\nkey = "tasks[0].reward_ether"\nlow = 1.0\nhigh = 2.0\n'
         '[[constraint]]\nmetric = "no_such_metric"\nbound = 1.0\n', "constraint[0].metric"),
    ],
)  # fmt: skip
def test_bad_tune_files_get_one_message_naming_the_file_and_key(
    tmp_path: Path, text: str, message: str
) -> None:
    path = tmp_path / "bad.toml"
    objective = '[[objective]]\nmetric = "task_success_rate"\n'
    path.write_text(f'scenario = "{DATA / "tiny.toml"}"\n{objective}{text}')
    with pytest.raises(ConfigError) as err:
        load_tune(str(path))
    assert str(path) in str(err.value) and message in str(err.value)


def test_bad_sensitivity_files_get_one_message_naming_the_file_and_key(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    head = f'scenario = "{DATA / "tiny.toml"}"\n'
    param = '[[param]]\nkey = "tasks[0].reward_ether"\nlow = 1.0\nhigh = 2.0\n'
    for text, message in (
        ('outputs = ["not_a_metric"]\n' + param, "outputs[0]"),
        ('outputs = ["task_success_rate"]\nsamples = 6\n' + param, "samples"),
        ('outputs = ["task_success_rate"]\nmethod = "fast"\n' + param, "method"),
    ):
        path.write_text(head + text)
        with pytest.raises(ConfigError) as err:
            load_sensitivity(str(path))
        assert str(path) in str(err.value) and message in str(err.value)


def test_a_deviation_constraint_reads_each_trials_study(tmp_path: Path) -> None:
    """With [deviations] every trial is a deviation study; its constraint is the largest
    gain of the kinds (the mean, with one seed), and feasibility follows its sign."""
    path = tmp_path / "dev.toml"
    path.write_text(
        f'scenario = "{DATA / "deviations_lazy.toml"}"\nseeds = [0]\ntrials = 2\nbatch = 2\n'
        "startup_trials = 2\n"
        f'[[param]]\nkey = "tasks[0].verifier_stake_ether"\nchoices = [0.0, 2.0]\n'
        '[[objective]]\nmetric = "initiator_cost_per_accepted_task"\n'
        '[deviations]\nroles = ["verifier"]\nkinds = ["lazy"]\n'
    )
    out = tmp_path / "out"
    status = run_tune(load_tune(str(path)), out, LocalExecutor(1), threads=1, progress=False)
    assert status.trials == 2
    verdicts = json.loads((out / "deviations.json").read_text())["verdicts"]
    gain = {r["point"]["tasks[0].verifier_stake_ether"]: r["gain"] for r in verdicts}
    trials = pd.read_parquet(out / "trials.parquet")
    for row in trials.to_dict("records"):
        expected = gain[row["tasks[0].verifier_stake_ether"]]
        assert row["violation.0"] == pytest.approx(expected)
        assert row["feasible"] == (expected <= 0)
