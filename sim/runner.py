"""The run loop: scenario + seed -> world -> population -> events, summary and series.

``run`` is the Python API (``sim.run``). The population comes from the ``baasim.populations``
entry-point group (the scenario's ``population.plugin``, ``default`` unless set), so ``sim``
never imports ``agents``; strategy kinds come from ``baasim.strategies`` and the scenario's
``plugins`` files (``sim.strategies``). Every output file is written atomically: a half-written
file never carries its final name.
"""

from __future__ import annotations

import json
import math
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, Protocol

import pandas as pd
import simpy

from analysis.metrics import summarize
from contracts.errors import InvariantViolation
from contracts.taskmarket import MarketEvent, TaskFinalized
from contracts.units import BURN_ADDRESS
from sim.audit import Auditor
from sim.errors import ConfigError
from sim.ledger import Ledger
from sim.oracle import Oracle
from sim.paths import atomic_path, atomic_write
from sim.recorder import Kind
from sim.scenario import Scenario, load_scenario, with_overrides
from sim.world import World, build_world


class Population(Protocol):
    """What a population plugin returns: it starts the agents and reports series."""

    def start(self) -> simpy.Event: ...

    def series(self) -> pd.DataFrame: ...

    def close(self) -> None: ...


PopulationFactory = Callable[[World], Population]


@dataclass
class RunResult:
    """One finished run."""

    scenario: Scenario
    seed: int
    run_id: str
    events: pd.DataFrame
    summary: dict[str, Any]
    series: pd.DataFrame
    out_dir: Path | None


def load_population(name: str) -> PopulationFactory:
    """The population factory registered under ``name`` in ``baasim.populations``."""
    found = {ep.name: ep for ep in entry_points(group="baasim.populations")}
    if name not in found:
        known = ", ".join(sorted(found)) or "none installed"
        raise ConfigError(f"population.plugin: no population plugin {name!r} (known: {known})")
    factory: PopulationFactory = found[name].load()
    return factory


def resolve(scenario_or_path: Scenario | str | Path, overrides: Sequence[str] = ()) -> Scenario:
    scenario = (
        scenario_or_path
        if isinstance(scenario_or_path, Scenario)
        else load_scenario(scenario_or_path)
    )
    return with_overrides(scenario, overrides) if overrides else scenario


def run(
    scenario_or_path: Scenario | str | Path,
    seed: int | None = None,
    *,
    out: str | Path | None = None,
    overrides: Sequence[str] = (),
    progress: bool = False,
    population: PopulationFactory | None = None,
) -> RunResult:
    """Run one scenario with one seed; write events.parquet, summary.json, series.parquet."""
    scenario = resolve(scenario_or_path, overrides)
    seed = scenario.run.seeds[0] if seed is None else seed
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ConfigError(f"seed: expected a non-negative integer, got {seed!r}")
    scenario.behaviours.registry.check_unchanged()
    factory = population or load_population(scenario.population.plugin)
    if out is None:
        with tempfile.TemporaryDirectory(prefix="baasim-run-") as tmp:
            return _run(scenario, seed, Path(tmp), factory, progress, keep=False)
    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    return _run(scenario, seed, out_dir, factory, progress, keep=True)


def _run(
    scenario: Scenario,
    seed: int,
    out_dir: Path,
    factory: PopulationFactory,
    progress: bool,
    keep: bool,
) -> RunResult:
    wall_start = time.perf_counter()
    world = build_world(scenario, seed, out_dir)
    Ledger(world.watcher, world.recorder, world.directory, scenario.costs)
    Oracle(world)
    if scenario.audit.enabled:
        Auditor(world)
    pop = factory(world)
    world.recorder.record(Kind.RUN_STARTED, None, detail=scenario.name)
    done = pop.start()
    bar = _progress(world, scenario) if progress else None
    limit = world.env.timeout(scenario.run.max_time_s)
    try:
        world.env.run(until=done | limit)
    finally:
        if bar is not None:
            bar.close()
        world.store.close()
        pop.close()
    completed = done.triggered
    _record_final_balances(world)
    world.recorder.record(
        Kind.RUN_FINISHED,
        None,
        ok=completed,
        value=world.env.now,
        detail="completed" if completed else "stopped at run.max_time_s",
    )
    events = world.recorder.to_frame()
    summary = _summary(world, events, completed, time.perf_counter() - wall_start)
    series = pop.series()
    if keep:
        _write_outputs(out_dir, world, summary, series)
    return RunResult(
        scenario, seed, world.run_id, events, summary, series, out_dir if keep else None
    )


def _record_final_balances(world: World) -> None:
    """Record each agent's end balance and check that no wei was created or lost."""
    for member in world.directory:
        world.recorder.record(Kind.BALANCE, member.name, wei=world.chain.balance(member.address))
    chain = world.chain
    accounts = {a.address for a in chain.genesis_accounts}
    accounts |= {member.address for member in world.directory}
    # the burn address holds stakes the market burned: out of circulation, not lost
    accounts |= {chain.faucet.address, chain.coinbase, world.market.address, BURN_ADDRESS}
    held: int = sum(chain.balance(a) for a in accounts)
    if held + chain.burned_fees != chain.genesis_supply:
        raise InvariantViolation(
            f"ether not conserved: held {held} + burned {chain.burned_fees} "
            f"!= genesis {chain.genesis_supply}"
        )


def _summary(world: World, events: pd.DataFrame, completed: bool, wall: float) -> dict[str, Any]:
    s = world.scenario
    summary: dict[str, Any] = {
        "run_id": world.run_id,
        "scenario": s.name,
        "scenario_hash": s.digest,
        "seed": world.seed,
        "status": "completed" if completed else "timed_out",
        "sim_duration_s": world.env.now,
        "wall_time_s": wall,
        "blocks": world.chain.head_number,
        "chain_transactions": world.chain.tx_count,
        "burned_fees_wei": int(world.chain.burned_fees),
        "market_balance_wei": int(world.chain.balance(world.market.address)),
        "burned_stakes_wei": int(world.chain.balance(BURN_ADDRESS)),
    }
    summary.update(summarize(events))
    return summary


def _write_outputs(
    out_dir: Path, world: World, summary: dict[str, Any], series: pd.DataFrame
) -> None:
    world.recorder.write(out_dir / "events.parquet")
    with atomic_path(out_dir / "series.parquet") as tmp:
        series.to_parquet(tmp, index=False)
    text = json.dumps(_jsonable(summary), indent=2, sort_keys=True) + "\n"
    atomic_write(out_dir / "summary.json", text)


def _jsonable(obj: Any) -> Any:
    """NaN becomes null: summary.json stays strict JSON for outside scripts."""
    if isinstance(obj, float) and math.isnan(obj):
        return None
    if isinstance(obj, dict):
        return {k: _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    return obj


def _progress(world: World, scenario: Scenario) -> Any:
    from tqdm import tqdm

    total = sum(t.count for t in scenario.tasks)
    bar = tqdm(total=total, unit="task", desc=scenario.name, leave=False)

    def on_final(e: MarketEvent) -> None:
        if isinstance(e, TaskFinalized):
            bar.update(1)
        bar.set_postfix(t=f"{world.env.now:,.0f}s", blocks=world.blocks, refresh=False)

    world.watcher.subscribe(MarketEvent, on_final)
    return bar
