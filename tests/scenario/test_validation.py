"""Malformed scenario files stop with one message naming the file, the key and the expectation."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from sim.cli import main
from sim.errors import ConfigError
from sim.scenario import Scenario, load_scenario, with_overrides
from tests.scenario.conftest import BASE

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = sorted((ROOT / "scenarios").glob("*.toml"))


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    return path


def error_of(tmp_path: Path, text: str) -> str:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_scenario(path)
    message = str(info.value)
    assert message.startswith(str(path) + ": "), message
    return message.removeprefix(str(path) + ": ")


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_every_shipped_scenario_loads(path: Path) -> None:
    scenario = load_scenario(path)
    assert isinstance(scenario, Scenario)
    assert scenario.description


def test_base_loads(tmp_path: Path) -> None:
    s = load_scenario(write(tmp_path, BASE))
    assert s.tasks[0].committee_size == 3
    assert s.population.contributors == 3


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "bogus = 1\n" + BASE,
            "unknown key 'bogus'; expected one of: adaptation, audit, behaviours, chain",
        ),
        (BASE + "bogus = 1\n", "unknown key 'tasks[0].bogus'; expected one of: aggregation"),
        (BASE.replace("[population]", "[population]\nbogus = 2"), "unknown key 'population.bogus'"),
        (
            BASE + "[chain]\nblock_interval_s = 'fast'\n",
            "chain.block_interval_s: expected an integer",
        ),
        (
            BASE + "[network]\nrpc_latency_s = {kind = 'normal', mean = -1.0, std = 0.1}\n",
            "network.rpc_latency_s.mean: expected a non-negative number, got -1.0",
        ),
        (
            BASE + "[network]\nrpc_latency_s = {kind = 'normal', mean = 1.0}\n",
            "network.rpc_latency_s.std: required for a normal distribution",
        ),
        (
            BASE + "[network]\nrpc_latency_s = {kind = 'constant', value = 1.0, sigma = 2.0}\n",
            "network.rpc_latency_s.sigma: not a parameter of a constant distribution",
        ),
        (
            BASE.replace("committee_size = 3", "mafr = 0.0"),
            "tasks[0].mafr: expected a fraction in (0, 1], got 0.0",
        ),
        (
            BASE.replace("committee_size = 3", "mafr = 1.5"),
            "tasks[0].mafr: expected a fraction in (0, 1], got 1.5",
        ),
        (
            BASE.replace("committee_size = 3", "committee_size = 4"),
            "tasks[0].committee_size: expected at most population.verifiers (3), got 4",
        ),
        (
            BASE.replace("reward_ether = 5.0", "reward_ether = 150.0"),
            "tasks[0].reward_ether: 1 task(s) of 150.0 ether need more than the initiator's "
            "chain.genesis_balance_ether (100.0)",
        ),
        (
            BASE + "verifier_stake_ether = 100.0\n",
            "tasks[0].verifier_stake_ether: expected below chain.genesis_balance_ether (100.0)",
        ),
        (BASE + "slash_fraction = 0.5\n", "tasks[0].slash_fraction: slashing needs a stake"),
        (
            BASE + "submission_window_s = 10.0\n",
            "tasks[0].submission_window_s: expected at least two blocks",
        ),
        (
            BASE + "aggregation = 'mean'\n",
            "tasks[0].aggregation: expected one of 'majority', 'median'",
        ),
        (
            BASE + "initiator = 2\n",
            "tasks[0].initiator: expected an index below population.initiators (1)",
        ),
        (BASE + "[data]\ndataset = 'cifar'\n", "data.dataset: expected one of 'mnist', 'mnist-5k'"),
        (
            BASE + "[storage]\nbackend = 'disk'\n",
            "storage.backend: expected one of 'embedded', 'ipfs'",
        ),
        (BASE + "[run]\nseeds = [-1]\n", "run.seeds[0]: expected an integer >= 0, got -1"),
        (
            BASE + "[run]\nseeds = []\n",
            "run.seeds: expected at least one seed, each an integer >= 0, got []",
        ),
        (
            BASE + "[data]\nshard_size = 1100\n",
            "data.shard_size: 3 shards need 3300 samples but mnist-5k has 3000 left",
        ),
        (
            BASE + "verifier_stake_ether = nan\n",
            "tasks[0].verifier_stake_ether: expected a number, got nan",
        ),
        (BASE + "start_s = inf\n", "tasks[0].start_s: expected a finite number, got inf"),
        (
            BASE + "[network]\njitter_sigma = nan\n",
            "network.jitter_sigma: expected a number, got nan",
        ),
        (BASE + "[fusion]\nlr = -inf\n", "fusion.lr: expected a finite number, got -inf"),
        (
            BASE + "[behaviours.lazy]\naccuracy = {kind = 'uniform', low = 0.5, high = 1.4}\n",
            "behaviours.lazy.accuracy: expected accuracies in [0, 1]; this distribution "
            "reaches 1.4",
        ),
        (
            BASE + "[behaviours.lazy]\naccuracy = {kind = 'exponential', mean = 0.9}\n",
            "behaviours.lazy.accuracy: expected accuracies in [0, 1]; this distribution "
            "reaches inf (set maximum = 1.0 to clip it)",
        ),
        ("name = 't'\ntasks = []\n", "tasks: expected at least one [[tasks]] table"),
        (BASE + "[population]\n", "not valid TOML: "),
    ],
)
def test_each_rule_names_key_and_expectation(tmp_path: Path, text: str, expected: str) -> None:
    message = error_of(tmp_path, text)
    assert message.startswith(expected), message


def test_a_clipped_lazy_accuracy_distribution_loads(tmp_path: Path) -> None:
    dist = "{kind = 'exponential', mean = 0.9, maximum = 1.0}"
    text = BASE + f"[behaviours.lazy]\naccuracy = {dist}\n"
    assert load_scenario(write(tmp_path, text)).behaviours["lazy"].accuracy.upper == 1.0


def test_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such scenario file"):
        load_scenario(tmp_path / "absent.toml")


def test_overrides_are_validated_like_the_file(tmp_path: Path) -> None:
    s = load_scenario(write(tmp_path, BASE))
    changed = with_overrides(s, ["tasks[0].mafr=0.9", "data.dataset=mnist", "run.seeds=[3, 4]"])
    assert changed.tasks[0].mafr == 0.9
    assert changed.data.dataset == "mnist"
    assert changed.run.seeds == (3, 4)
    with pytest.raises(ConfigError, match=r"--set: tasks\[0\].mafr: expected a fraction"):
        with_overrides(s, ["tasks[0].mafr=2"])
    with pytest.raises(ConfigError, match=r"expected KEY\.PATH=VALUE"):
        with_overrides(s, ["mafr"])
    with pytest.raises(ConfigError, match="no item '5'"):
        with_overrides(s, ["tasks[5].mafr=0.5"])


def test_replace_revalidates_cross_field_rules(tmp_path: Path) -> None:
    s = load_scenario(write(tmp_path, BASE))
    with pytest.raises(ValueError, match=r"committee_size: expected at most population\.verifiers"):
        dataclasses.replace(s, population=dataclasses.replace(s.population, verifiers=2))


def test_digest_ignores_seeds_but_not_parameters(tmp_path: Path) -> None:
    s = load_scenario(write(tmp_path, BASE))
    assert with_overrides(s, ["run.seeds=[9]"]).digest == s.digest
    assert with_overrides(s, ["tasks[0].mafr=0.7"]).digest != s.digest
    # structured fusion can move a score's rounding: a run with it is another run
    assert with_overrides(s, ["fusion.structured=true"]).digest != s.digest


def test_check_command_reports_ok_and_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = write(tmp_path, BASE)
    assert main(["check", str(good)]) == 0
    assert "ok" in capsys.readouterr().out
    bad = tmp_path / "worse.toml"
    bad.write_text(BASE.replace("committee_size = 3", "mafr = 3.0"))
    assert main(["check", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert f"{bad}: tasks[0].mafr: expected a fraction in (0, 1], got 3.0" in err
