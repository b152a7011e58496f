"""Strategy plugins: README's example runs from outside the repo; bad plugins get one message.

Also: every built-in kind is documented and typed, plugin files are hashed into the scenario,
and their parameters load, override and pickle like any other section.
"""

from __future__ import annotations

import dataclasses
import pickle
import re
from pathlib import Path

import pytest

from sim.errors import ConfigError
from sim.runner import run
from sim.scenario import load_scenario, with_values
from sim.strategies import ROLES, builtin_registry

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
TINY = ROOT / "tests" / "data" / "tiny.toml"

BUILTIN_KINDS = {
    "contributor": {
        "honest",
        "free_rider",
        "plagiarist",
        "poisoner",
        "dropout",
        "self_verifier",
        "private",
    },
    "verifier": {
        "honest",
        "lazy",
        "always_approve",
        "always_reject",
        "colluding",
        "copycat",
        "offline",
        "registrant_flood",
        "selective_revealer",
    },
    "initiator": {"honest", "late_draw", "peek_and_cancel", "grinder", "free_access"},
}


def readme_strategy() -> str:
    """The Python block of README's "Writing a strategy" section, exactly."""
    text = README.read_text()
    section = text[text.index("## Writing a strategy") :]
    section = section[: section.index("\n## ", 1)]
    blocks = re.findall(r"```python\n(.*?)```", section, flags=re.DOTALL)
    assert len(blocks) == 1, "the section has one Python block: the plugin file"
    return str(blocks[0])


def write_scenario(tmp_path: Path, head: str = "", mix: str = "", tail: str = "") -> Path:
    """tiny.toml in ``tmp_path`` with top-level keys ``head``, a verifier ``mix`` and extra
    tables ``tail``."""
    text = TINY.read_text()
    if mix:
        text = text.replace("[population]\n", f"[population]\nverifier_behaviours = {mix}\n")
    path = tmp_path / "scenario.toml"
    path.write_text(f"{head}\n{text}\n{tail}")
    return path


def plugin(tmp_path: Path, name: str, code: str) -> Path:
    path = tmp_path / name
    path.write_text(code)
    return path


@pytest.mark.slow
def test_readme_strategy_runs_from_outside_the_repo(tmp_path: Path) -> None:
    assert not tmp_path.is_relative_to(ROOT)
    plugin(tmp_path, "gambler.py", readme_strategy())
    path = write_scenario(
        tmp_path,
        'plugins = ["gambler.py"]',
        "{ gambler = 2 }",
        "[behaviours.gambler]\nwork_rate = 0.5\n",
    )
    scenario = load_scenario(path)
    assert scenario.plugins == (str(tmp_path / "gambler.py"),)
    result = run(scenario, 0)
    assert result.summary["status"] == "completed"
    profits = result.summary["net_profit_by_behaviour"]["verifier"]
    assert "gambler" in profits
    assert set(result.events[result.events["behaviour"] == "gambler"]["role"]) == {"verifier"}


def test_unknown_kind_in_a_mix_names_the_file_and_the_role_kinds(tmp_path: Path) -> None:
    path = write_scenario(tmp_path, mix="{ sloppy = 1 }")
    with pytest.raises(ConfigError) as err:
        load_scenario(path)
    message = str(err.value)
    assert message.startswith(f"{path}: population.verifier_behaviours.sloppy: unknown")
    assert "honest, lazy, always_approve" in message
    assert "free_rider" not in message  # the verifier kinds only
    assert "\n" not in message


def test_unknown_kind_section_names_the_file(tmp_path: Path) -> None:
    path = write_scenario(tmp_path, tail="[behaviours.sloppy]\nx = 1\n")
    with pytest.raises(ConfigError, match=rf"^{re.escape(str(path))}: behaviours.sloppy: unknown"):
        load_scenario(path)


def test_a_plugin_that_fails_to_import_is_named_with_its_error(tmp_path: Path) -> None:
    bad = plugin(tmp_path, "broken.py", "import sim\nraise RuntimeError('half-written')\n")
    path = write_scenario(tmp_path, 'plugins = ["broken.py"]')
    with pytest.raises(ConfigError) as err:
        load_scenario(path)
    message = str(err.value)
    assert str(bad) in message
    assert "RuntimeError: half-written" in message


def test_a_missing_plugin_file_is_named(tmp_path: Path) -> None:
    path = write_scenario(tmp_path, 'plugins = ["absent.py"]')
    with pytest.raises(ConfigError, match=re.escape(str(tmp_path / "absent.py"))):
        load_scenario(path)


TWICE = '''
"""Registers a kind baasim already has."""

from agents.strategies.lazy import LazyParams, LazyVerifier


def register(registry):
    registry.add("verifier", "lazy", LazyVerifier, LazyParams)
'''


def test_a_plugin_registering_a_name_twice_is_named(tmp_path: Path) -> None:
    twice = plugin(tmp_path, "twice.py", TWICE)
    path = write_scenario(tmp_path, 'plugins = ["twice.py"]')
    with pytest.raises(ConfigError) as err:
        load_scenario(path)
    message = str(err.value)
    assert str(twice) in message
    assert "verifier kind 'lazy', already registered by entry point builtin" in message


DECORATED = '''
"""A verifier kind registered with the decorator instead of register()."""

from dataclasses import dataclass

from agents.strategies.base import VerifierStrategy
from sim.strategies import strategy


@dataclass(frozen=True)
class MuteParams:
    """``[behaviours.mute]``."""

    patience: float = 0.5
    """Unused."""


@strategy("verifier", "mute", params=MuteParams)
class Mute(VerifierStrategy[MuteParams]):
    """Never says anything."""

    def evaluate(self, agent, task, inputs):
        yield agent.env.timeout(0)
        return None
'''


def test_plugin_parameters_load_override_hash_and_pickle(tmp_path: Path) -> None:
    mute = plugin(tmp_path, "mute.py", DECORATED)
    path = write_scenario(
        tmp_path, 'plugins = ["mute.py"]', "{ mute = 1 }", "[behaviours.mute]\npatience = 0.25\n"
    )
    scenario = load_scenario(path)
    assert scenario.behaviours["mute"].patience == 0.25
    assert len(scenario.plugin_sha256) == 1
    changed = with_values(scenario, {"behaviours.mute.patience": 0.75})
    assert changed.behaviours["mute"].patience == 0.75
    assert changed.digest != scenario.digest
    assert pickle.loads(pickle.dumps(changed)) == changed
    with pytest.raises(ConfigError, match=r"behaviours\.mute\.patience: expected a number"):
        with_values(scenario, {"behaviours.mute.patience": "high"})
    mute.write_text(DECORATED.replace("0.5", "0.6"))  # edited after loading
    with pytest.raises(ConfigError, match="changed after the scenario was loaded"):
        run(scenario, 0)


def test_builtin_parameters_are_typed_sections(tmp_path: Path) -> None:
    scenario = with_values(load_scenario(TINY), {"behaviours.lazy.accuracy.high": 0.9})
    assert scenario.behaviours["lazy"].accuracy.high == 0.9
    with pytest.raises(ConfigError, match=r"behaviours\.poisoner\.rate: expected a fraction"):
        with_values(scenario, {"behaviours.poisoner.rate": 1.5})
    with pytest.raises(ConfigError, match=r"unknown key 'behaviours\.lazy\.acuracy'"):
        with_values(scenario, {"behaviours.lazy.acuracy": 0.9})
    with pytest.raises(ConfigError, match=r"behaviours\.colluding\.targets: expected indices"):
        with_values(scenario, {"behaviours.colluding.targets": [3]})


def test_every_builtin_kind_has_a_docstring_and_a_params_class() -> None:
    registry = builtin_registry()
    found = {role: set(registry.names(role)) for role in ROLES}
    assert found == BUILTIN_KINDS
    for kind in registry.kinds():
        assert kind.strategy.__doc__, f"{kind.role} kind {kind.name} has no docstring"
        assert kind.doc
        assert dataclasses.is_dataclass(kind.params)
        assert kind.params.__dataclass_params__.frozen  # type: ignore[attr-defined]
        assert kind.source.startswith("entry point builtin")
