"""README's promises that can be checked: its scenario reference is the generated one."""

from __future__ import annotations

from pathlib import Path

from sim.cli.schema import END, START, splice
from sim.schema import render

README = Path(__file__).resolve().parents[1] / "README.md"


def test_scenario_reference_matches_the_config_classes() -> None:
    text = README.read_text()
    assert splice(text, render()) == text, "run: .venv/bin/baasim schema --update README.md"
    assert text.index(START) < text.index(END)


def test_readme_names_every_shipped_scenario() -> None:
    text = README.read_text()
    for path in sorted((README.parent / "scenarios").glob("*.toml")):
        assert f"`{path.name}`" in text, path.name
