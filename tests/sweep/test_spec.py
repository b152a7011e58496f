"""Sweep definitions and the grid: values, ranges, log ranges, products, zips, bad input."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from sim.errors import ConfigError
from sim.sweep.spec import (
    Axis,
    SweepSpec,
    Values,
    expand,
    grid,
    load_sweep,
    spec_from_table,
    to_toml,
)


def values(key: str = "k", **kw: Any) -> Values:
    return Values(key=key, **kw)


def spec(vary: list[dict[str, Any]], **top: Any) -> SweepSpec:
    return spec_from_table({"name": "s", "scenario": "base.toml", "vary": vary, **top}, "s.toml")


# ---------------------------------------------------------------- expanding one parameter


def test_listed_values_keep_their_order_and_types() -> None:
    assert expand(values(values=(3, "II", 0.5, True))) == (3, "II", 0.5, True)


def test_a_stepped_range_includes_stop_when_it_is_reached() -> None:
    assert expand(values(start=0.0, stop=0.6, step=0.2)) == (0.0, 0.2, 0.4, 0.6)
    assert expand(values(start=0.0, stop=0.5, step=0.2)) == (0.0, 0.2, 0.4)
    assert expand(values(start=1.0, stop=0.0, step=-0.5)) == (1.0, 0.5, 0.0)


def test_integer_endpoints_and_step_give_integers() -> None:
    got = expand(values(start=2, stop=10, step=4))
    assert got == (2, 6, 10)
    assert all(type(v) is int for v in got)


def test_num_values_spread_linearly_between_start_and_stop() -> None:
    assert expand(values(start=0.0, stop=1.0, num=5)) == (0.0, 0.25, 0.5, 0.75, 1.0)


def test_a_log_range_is_geometric() -> None:
    assert expand(values(start=0.01, stop=10.0, num=4, scale="log")) == (0.01, 0.1, 1.0, 10.0)


def test_an_integer_log_range_rounds_and_drops_duplicates() -> None:
    assert expand(values(start=1, stop=16, num=5, scale="log")) == (1, 2, 4, 8, 16)
    assert expand(values(start=1, stop=3, num=6, scale="log")) == (1, 2, 3)


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"values": (1,), "start": 0.0}, "either values or start/stop"),
        ({"values": ()}, "at least one value"),
        ({"start": 0.0}, "start and stop"),
        ({"start": 0.0, "stop": 1.0}, "exactly one of step and num"),
        ({"start": 0.0, "stop": 1.0, "step": 0.5, "num": 3}, "exactly one of step and num"),
        ({"start": 0.0, "stop": 1.0, "step": -0.5}, "never gets from start"),
        ({"start": 0.0, "stop": 1.0, "step": 0.0}, "non-zero"),
        ({"start": 1.0, "stop": 10.0, "step": 1.0, "scale": "log"}, "needs num"),
        ({"start": 0.0, "stop": 10.0, "num": 3, "scale": "log"}, "start and stop > 0"),
        ({"start": 0.0, "stop": 1.0, "num": 0}, "num: expected an integer >= 1"),
    ],
)
def test_malformed_values_are_rejected(kw: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        values(**kw)


# ---------------------------------------------------------------- the grid


def test_the_grid_is_the_product_with_the_last_axis_fastest() -> None:
    s = spec([{"key": "a", "values": [1, 2]}, {"key": "b", "values": ["x", "y", "z"]}])
    assert grid(s) == [
        {"a": 1, "b": "x"},
        {"a": 1, "b": "y"},
        {"a": 1, "b": "z"},
        {"a": 2, "b": "x"},
        {"a": 2, "b": "y"},
        {"a": 2, "b": "z"},
    ]


def test_a_zipped_group_advances_together_as_one_axis() -> None:
    s = spec(
        [
            {
                "zip": [
                    {"key": "n", "values": [2, 3, 5]},
                    {"key": "m", "start": 1, "stop": 3, "step": 1},
                ]
            },
            {"key": "s", "values": [0.0, 1.0]},
        ]
    )
    assert grid(s) == [
        {"n": 2, "m": 1, "s": 0.0},
        {"n": 2, "m": 1, "s": 1.0},
        {"n": 3, "m": 2, "s": 0.0},
        {"n": 3, "m": 2, "s": 1.0},
        {"n": 5, "m": 3, "s": 0.0},
        {"n": 5, "m": 3, "s": 1.0},
    ]
    assert s.parameters == ("n", "m", "s")


def test_no_axes_is_one_point_the_base_scenario() -> None:
    assert grid(spec([])) == [{}]


def test_grid_takes_axes_directly() -> None:
    axes = [Axis((values("a", values=(1, 2)),)), Axis((values("b", start=0, stop=1, step=1),))]
    assert grid(axes) == [{"a": 1, "b": 0}, {"a": 1, "b": 1}, {"a": 2, "b": 0}, {"a": 2, "b": 1}]


# ---------------------------------------------------------------- reading definitions


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"name": "s", "scenario": "b.toml", "wat": 1}, "s.toml: unknown key 'wat'"),
        ({"name": "s"}, "s.toml: missing key 'scenario'"),
        ({"name": "s", "scenario": "b.toml", "seeds": 0}, "seeds: expected a count >= 1"),
        ({"name": "s", "scenario": "b.toml", "seeds": [1, 1]}, "seeds: a seed is listed twice"),
        ({"name": "s", "scenario": "b.toml", "seeds": [-1]}, "seeds: expected non-negative"),
        ({"name": "s", "scenario": "b.toml", "seeds": "x"}, "seeds"),
        ({"name": "s", "scenario": "b.toml", "vary": {"key": "a"}}, "vary: expected"),
        ({"name": "s", "scenario": "b.toml", "vary": [{"key": "a"}]}, r"s.toml: vary\[0\].start"),
        (
            {"name": "s", "scenario": "b.toml", "vary": [{"key": "a", "values": [1], "x": 2}]},
            r"vary\[0\].x",
        ),
        (
            {
                "name": "s",
                "scenario": "b.toml",
                "vary": [{"key": "a", "values": [1]}, {"key": "a", "values": [2]}],
            },
            "'a' is varied by more than one axis",
        ),
        (
            {
                "name": "s",
                "scenario": "b.toml",
                "set": {"a": 1},
                "vary": [{"key": "a", "values": [2]}],
            },
            "'a' is both varied and fixed",
        ),
        (
            {
                "name": "s",
                "scenario": "b.toml",
                "vary": [{"zip": [{"key": "a", "values": [1, 2]}]}],
            },
            r"vary\[0\].zip: expected a list of two or more",
        ),
        (
            {
                "name": "s",
                "scenario": "b.toml",
                "vary": [{"zip": [{"key": "a", "values": [1, 2]}, {"key": "b", "values": [1]}]}],
            },
            r"s.toml: vary\[0\].zip: .*a has 2, b has 1",
        ),
        (
            {
                "name": "s",
                "scenario": "b.toml",
                "vary": [{"zip": [{"key": "a", "values": [1]}], "key": "b"}],
            },
            "a zipped group has only 'zip'",
        ),
    ],
)
def test_bad_definitions_name_the_file_and_key(table: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        spec_from_table(table, "s.toml")


def test_seeds_count_list_or_the_scenarios_own() -> None:
    assert spec([], seeds=3).seed_list((9,)) == (0, 1, 2)
    assert spec([], seeds=[5, 7]).seed_list((9,)) == (5, 7)
    assert spec([]).seed_list((9,)) == (9,)


def test_a_sweep_file_resolves_its_scenario_beside_it(tmp_path: Path) -> None:
    (tmp_path / "sweeps").mkdir()
    path = tmp_path / "sweeps" / "stake.toml"
    path.write_text(
        'scenario = "../base.toml"\nseeds = 2\n[set]\n"tasks[0].count" = 2\n'
        '[[vary]]\nkey = "tasks[0].mafr"\nvalues = [0.5, 0.9]\n'
    )
    s = load_sweep(path)
    assert s.name == "stake"
    assert Path(s.scenario) == (tmp_path / "base.toml").absolute()
    assert s.set == {"tasks[0].count": 2}
    assert grid(s) == [{"tasks[0].mafr": 0.5}, {"tasks[0].mafr": 0.9}]


def test_unreadable_sweep_files_are_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such sweep file"):
        load_sweep(tmp_path / "nope.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("scenario = \n")
    with pytest.raises(ConfigError, match=r"bad.toml: not valid TOML"):
        load_sweep(bad)


def test_to_toml_writes_a_file_that_reads_back_to_the_same_sweep(tmp_path: Path) -> None:
    original = spec(
        [
            {"key": "tasks[0].mafr", "values": [0.5, 0.9]},
            {"key": "x.y", "start": 0.1, "stop": 10.0, "num": 3, "scale": "log"},
            {
                "zip": [
                    {"key": "n", "values": [2, 3]},
                    {"key": "m", "start": 1, "stop": 2, "step": 1},
                ]
            },
            {"key": "d", "values": [{"kind": "exponential", "mean": 3600.0}, "II", True]},
        ],
        seeds=[1, 4],
        description='quotes " and \\ survive',
        set={"tasks[0].count": 2, "network.jitter_sigma": 0.0},
    )
    path = tmp_path / "again.toml"
    path.write_text(to_toml(original))
    again = load_sweep(path)
    assert again.vary == original.vary
    assert (again.seeds, again.set, again.description) == (
        original.seeds,
        original.set,
        original.description,
    )
    assert grid(again) == grid(original)
