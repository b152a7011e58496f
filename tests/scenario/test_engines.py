"""Every shipped scenario gives the same tables on revm as on py-evm (``chain.engine``).

Each scenario runs once per engine with the same seed and the learning shrunk (tiny models,
one epoch, small data: the chain, agents and contract paths stay the scenario's own); the
event tables, the series and the summaries must be equal, wall-clock time aside. The
engine is not part of the scenario hash, so run ids and scenario hashes match too. Both runs
share the training and evaluation caches, so learning work is done once per scenario.
A full-size comparison is ``tests/benchmarks/bench_engines.py``.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from sim.runner import RunResult, run

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = sorted((ROOT / "scenarios").glob("*.toml")) + sorted(
    (ROOT / "scenarios" / "attacks").glob("*.toml")
)
SHRINK = (
    "data.dataset=mnist-5k",
    "data.shard_size=100",
    "data.verification_size=100",
    "data.test_size=100",
    "model.channels=[2, 4]",
    "model.hidden=[8]",
    "training.epochs=1",
    "fusion.phase1_epochs=1",
    "fusion.phase2_epochs=1",
)
"""Overrides that make learning cheap; nothing on chain depends on them but scores."""
FEWER = {
    "churn": ("tasks[0].count=2",),
    "private_contributors": (
        "audit.reference_size=50",
        "audit.reference_models=2",
        "behaviours.private.epochs=1",
    ),
}
"""Scenario-specific cuts for CI time (churn: two of its six tasks; arrivals and sessions stay;
the audit's reference models within the shrunk verification set; the private kind's own DP
epochs, which ``training.epochs`` does not shrink)."""

pytestmark = pytest.mark.slow


def _run(path: Path, engine: str) -> RunResult:
    return run(path, 0, overrides=(*SHRINK, *FEWER.get(path.stem, ()), f"chain.engine={engine}"))


def _without_wall_clock(summary: dict[str, object]) -> dict[str, object]:
    return {k: v for k, v in summary.items() if k != "wall_time_s"}


@pytest.mark.parametrize("path", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_shipped_scenario_same_tables_on_both_engines(path: Path) -> None:
    evm = _run(path, "py-evm")
    revm = _run(path, "revm")
    assert revm.scenario.chain.engine == "revm" and evm.scenario.chain.engine == "py-evm"
    assert revm.run_id == evm.run_id
    assert len(evm.events) > 0 and (evm.events["gas"].fillna(0) > 0).any()
    pd.testing.assert_frame_equal(revm.events, evm.events)
    pd.testing.assert_frame_equal(revm.series, evm.series)
    assert _without_wall_clock(revm.summary) == _without_wall_clock(evm.summary)


def test_the_engine_is_not_part_of_the_scenario_hash() -> None:
    from sim.scenario import load_scenario, with_overrides

    base = load_scenario(ROOT / "scenarios" / "quick.toml")
    other = with_overrides(base, ["chain.engine=revm"])
    assert other.chain.engine == "revm" and base.chain.engine == "py-evm"
    assert other.digest == base.digest
    assert with_overrides(base, ["chain.gas_price_gwei=2"]).digest != base.digest


def test_future_seed_is_refused_on_revm() -> None:
    from sim.errors import ConfigError
    from sim.scenario import load_scenario, with_overrides

    base = load_scenario(ROOT / "scenarios" / "quick.toml")
    with_overrides(base, ["tasks[0].future_seed=true"])  # fine on py-evm
    with pytest.raises(ConfigError, match=r"tasks\[0\]\.future_seed: needs chain.engine"):
        with_overrides(base, ["tasks[0].future_seed=true", "chain.engine=revm"])
