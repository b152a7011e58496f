"""The compiled artifacts committed beside the Vyper sources are current."""

from __future__ import annotations

import json

from contracts import SOURCE_DIR, artifact_path, compile_source, contract_names
from contracts.units import MAX_COMMITTEE, MAX_REGISTRANTS, MAX_SUBMISSIONS, PAPER_SUBMISSIONS


def test_every_artifact_matches_a_fresh_compilation() -> None:
    names = contract_names()
    assert {"TaskMarket", "attacks/Grinder"} <= set(names)
    for name in names:
        committed = json.loads(artifact_path(name).read_text())
        fresh = compile_source(name).artifact()
        assert committed == fresh, (
            f"{artifact_path(name)} is stale: run python scripts/compile_contracts.py"
        )


def test_capacity_constants_match_the_source() -> None:
    source = (SOURCE_DIR / "TaskMarket.vy").read_text()
    for name, value in (
        ("MAX_SUBMISSIONS", MAX_SUBMISSIONS),
        ("PAPER_SUBMISSIONS", PAPER_SUBMISSIONS),
        ("MAX_REGISTRANTS", MAX_REGISTRANTS),
        ("MAX_COMMITTEE", MAX_COMMITTEE),
    ):
        assert f"{name}: constant(uint256) = {value}" in source
