"""Plans: every grid point becomes a validated scenario before anything runs."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import pytest

from sim.cli import build_parser
from sim.cli.sweep import build_spec, parse_seeds
from sim.errors import ConfigError
from sim.scenario import load_scenario
from sim.sweep import build_plan, spec_from_table
from sim.world import run_id_for

TINY = Path(__file__).resolve().parents[1] / "data" / "tiny.toml"


def plan_of(vary: list[dict[str, Any]], **top: Any) -> Any:
    table = {"name": "t", "scenario": str(TINY), "vary": vary, **top}
    return build_plan(spec_from_table(table, "t.toml"))


def test_each_point_is_the_base_scenario_with_its_values() -> None:
    plan = plan_of(
        [
            {"key": "tasks[0].verifier_stake_ether", "values": [0.5, 2.0]},
            {"key": "population.contributors", "start": 2, "stop": 3, "step": 1},
        ],
        seeds=2,
        set={"tasks[0].mafr": 0.6},
    )
    base = load_scenario(TINY)
    assert [p.values for p in plan.points] == [
        {"tasks[0].verifier_stake_ether": 0.5, "population.contributors": 2},
        {"tasks[0].verifier_stake_ether": 0.5, "population.contributors": 3},
        {"tasks[0].verifier_stake_ether": 2.0, "population.contributors": 2},
        {"tasks[0].verifier_stake_ether": 2.0, "population.contributors": 3},
    ]
    last = plan.points[-1].scenario
    assert last.tasks[0].verifier_stake_ether == 2.0
    assert last.population.contributors == 3
    assert last.tasks[0].mafr == 0.6  # [set] applies to every point
    assert last.data == base.data
    assert plan.seeds == (0, 1)
    assert plan.base.tasks[0].mafr == 0.6


def test_jobs_are_every_point_with_every_seed_under_the_runners_run_id() -> None:
    plan = plan_of([{"key": "tasks[0].mafr", "values": [0.5, 0.6]}], seeds=[3, 9])
    jobs = plan.jobs(threads=1)
    assert [(j.point, j.seed) for j in jobs] == [(0, 3), (0, 9), (1, 3), (1, 9)]
    for j in jobs:
        assert j.run_id == run_id_for(plan.points[j.point].scenario, j.seed)
        assert j.threads == 1
    assert len({j.run_id for j in jobs}) == 4


def test_without_seeds_the_base_scenarios_seeds_are_used() -> None:
    assert plan_of([]).seeds == load_scenario(TINY).run.seeds


def test_a_bad_value_fails_before_anything_runs_naming_the_point() -> None:
    with pytest.raises(ConfigError) as err:
        plan_of([{"key": "tasks[0].mafr", "values": [0.5, 1.5]}])
    message = str(err.value)
    assert "t.toml: point 1 (tasks[0].mafr=1.5)" in message
    assert "tasks[0].mafr: expected a fraction in (0, 1]" in message


def test_a_cross_field_rule_names_the_point() -> None:
    with pytest.raises(
        ConfigError, match=r"point 0 \(tasks\[0\].committee_size=9\).*committee_size"
    ):
        plan_of([{"key": "tasks[0].committee_size", "values": [9, 2]}])


def test_an_unknown_key_names_the_point_and_key() -> None:
    with pytest.raises(
        ConfigError, match=r"point 0 \(tasks\[0\].stake=1\).*unknown key 'tasks\[0\].stake'"
    ):
        plan_of([{"key": "tasks[0].stake", "values": [1]}])


def test_a_wrong_type_names_the_point() -> None:
    with pytest.raises(
        ConfigError, match=r"point 0 .*population.contributors: expected an integer"
    ):
        plan_of([{"key": "population.contributors", "values": [2.5]}])


def test_a_bad_fixed_setting_names_the_set_table() -> None:
    with pytest.raises(ConfigError, match=r"t.toml: \[set\]: tasks\[0\].mafr"):
        plan_of([], set={"tasks[0].mafr": 2.0})


def test_two_points_giving_one_scenario_are_rejected() -> None:
    with pytest.raises(ConfigError, match=r"point 1 .* same scenario as point 0"):
        plan_of([{"key": "tasks[0].mafr", "values": [0.5, 0.5]}])


def test_the_plan_as_plain_data_lists_points_and_runs() -> None:
    plan = plan_of([{"key": "tasks[0].mafr", "values": [0.5, 0.6]}], seeds=2)
    table = json.loads(json.dumps(plan.to_table()))
    assert table["parameters"] == ["tasks[0].mafr"]
    assert table["axes"] == [[{"key": "tasks[0].mafr", "values": [0.5, 0.6]}]]
    assert [p["values"] for p in table["points"]] == [
        {"tasks[0].mafr": 0.5},
        {"tasks[0].mafr": 0.6},
    ]
    assert [r["run_id"] for r in table["runs"]] == [j.run_id for j in plan.jobs()]
    assert table["base_scenario"]["name"] == "tiny"
    assert "[population]" in table["base_scenario"]["text"]
    assert 'key = "tasks[0].mafr"' in table["definition"]


# ---------------------------------------------------------------- CLI flags


def args_of(*argv: str) -> argparse.Namespace:
    return build_parser().parse_args(["sweep", *argv])


def test_flags_alone_define_a_sweep() -> None:
    spec = build_spec(
        args_of(
            "--scenario",
            str(TINY),
            "--vary",
            "tasks[0].verifier_stake_ether=[0.5, 1.0]",
            "--vary",
            "tasks[0].slash_fraction={start=0.0, stop=1.0, num=3}",
            "--zip",
            "population.contributors=[2, 3]",
            "tasks[0].max_contributors=[2, 3]",
            "--seeds",
            "1,2",
            "--set",
            "tasks[0].mafr=0.6",
        )
    )
    plan = build_plan(spec)
    assert spec.name == "tiny-sweep"
    assert spec.source == "command line"
    assert spec.parameters == (
        "tasks[0].verifier_stake_ether",
        "tasks[0].slash_fraction",
        "population.contributors",
        "tasks[0].max_contributors",
    )
    assert len(plan.points) == 2 * 3 * 2
    assert plan.seeds == (1, 2)
    assert plan.base.tasks[0].mafr == 0.6


def test_flags_add_to_a_sweep_file(tmp_path: Path) -> None:
    path = tmp_path / "s.toml"
    path.write_text(
        f'scenario = "{TINY}"\nseeds = 3\n[[vary]]\nkey = "tasks[0].mafr"\nvalues = [0.5, 0.6]\n'
    )
    spec = build_spec(
        args_of(str(path), "--vary", "population.contributors=[2, 3]", "--seeds", "2")
    )
    assert spec.parameters == ("tasks[0].mafr", "population.contributors")
    assert spec.seeds == 2
    assert "with command-line flags" in spec.source


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ((), "give a sweep file, or --scenario"),
        (("--scenario", str(TINY), "--vary", "tasks[0].mafr"), "expected KEY.PATH=VALUE"),
        (("--scenario", str(TINY), "--vary", "tasks[0].mafr=[0.5,"), "is not a TOML value"),
        (("--scenario", str(TINY), "--zip", "population.contributors=[2]"), "two or more"),
        (("--scenario", str(TINY), "--seeds", "x"), "--seeds: expected a count"),
    ],
)
def test_bad_flags_are_named(argv: tuple[str, ...], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        build_spec(args_of(*argv))


def test_seeds_flag_takes_a_count_or_a_list() -> None:
    assert parse_seeds("4") == 4
    assert parse_seeds("1,5") == [1, 5]
    assert parse_seeds("[2, 3]") == [2, 3]
    assert parse_seeds("[0]") == [0]
    assert parse_seeds("7,") == [7]
