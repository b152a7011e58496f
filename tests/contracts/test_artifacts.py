"""The compiled artifacts committed beside the Vyper sources are current."""

from __future__ import annotations

import json

from contracts import SOURCE_DIR, artifact_path, compile_source
from contracts.units import MAX_COMMITTEE, MAX_REGISTRANTS, MAX_SUBMISSIONS, PAPER_SUBMISSIONS


def test_every_artifact_matches_a_fresh_compilation() -> None:
    for source in sorted(SOURCE_DIR.glob("*.vy")):
        committed = json.loads(artifact_path(source.stem).read_text())
        fresh = compile_source(source.stem).artifact()
        assert committed == fresh, (
            f"{artifact_path(source.stem)} is stale: run python scripts/compile_contracts.py"
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
