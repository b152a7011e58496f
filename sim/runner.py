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
import re
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, Protocol

import pandas as pd
import simpy

from analysis.adaptation import adaptation_summary
from analysis.metrics import summarize
from contracts.errors import InvariantViolation
from contracts.taskmarket import MarketEvent, TaskFinalized
from contracts.units import BURN_ADDRESS
from sim.audit import Auditor
from sim.config import to_table
from sim.errors import ConfigError
from sim.ledger import Ledger
from sim.oracle import Oracle
from sim.paths import atomic_path, atomic_write, write_page
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
    learning_executor: Executor | None = None,
) -> RunResult:
    """Run one scenario with one seed; write events.parquet, summary.json, series.parquet.

    ``learning_executor`` (a Dask client's ``get_executor()``) runs the run's training
    there, started as soon as a contributor joins a task; the results are the same.
    """
    scenario = resolve(scenario_or_path, overrides)
    seed = scenario.run.seeds[0] if seed is None else seed
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ConfigError(f"seed: expected a non-negative integer, got {seed!r}")
    scenario.behaviours.registry.check_unchanged()
    factory = population or load_population(scenario.population.plugin)
    if out is None:
        with tempfile.TemporaryDirectory(prefix="baasim-run-") as tmp:
            return _run(
                scenario, seed, Path(tmp), factory, progress, keep=False,
                executor=learning_executor,
            )  # fmt: skip
    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    return _run(scenario, seed, out_dir, factory, progress, keep=True, executor=learning_executor)


def _run(
    scenario: Scenario,
    seed: int,
    out_dir: Path,
    factory: PopulationFactory,
    progress: bool,
    keep: bool,
    executor: Executor | None = None,
) -> RunResult:
    live = LiveRun.start(scenario, seed, out_dir, factory, executor)
    bar = _progress(live.world, scenario) if progress else None
    try:
        live.world.env.run(until=live.end)
    finally:
        if bar is not None:
            bar.close()
        live.close()
    return live.finish(keep)


@dataclass
class LiveRun:
    """A run under way: its world, population and the event that ends it.

    ``run`` drives it to the end in one go; ``baasim dashboard`` advances it a chosen
    interval of simulated time at a time (``advance``). Either way the SimPy clock is the
    only clock, and the calls that schedule simulation events happen in the same order, so
    the same scenario and seed give the same events.
    """

    scenario: Scenario
    seed: int
    out_dir: Path
    world: World
    population: Population
    end: simpy.Event
    """Fires when the population's work is done or ``run.max_time_s`` has passed."""
    done: simpy.Event
    wall_start: float
    closed: bool = False
    _ended: bool = False

    def __post_init__(self) -> None:
        # SimPy re-queues an event whose callback stopped the simulation (with the callbacks
        # left), so "processed" never becomes true for the end event: a flag marks it
        self.end.callbacks.append(self._mark_ended)

    def _mark_ended(self, _event: simpy.Event) -> None:
        self._ended = True

    @classmethod
    def start(
        cls,
        scenario: Scenario,
        seed: int,
        out_dir: Path,
        factory: PopulationFactory,
        executor: Executor | None = None,
    ) -> LiveRun:
        """Build the world and the population and start its processes (nothing runs yet);
        with ``executor``, the run's training goes there (``LearningService.attach``)."""
        wall_start = time.perf_counter()
        world = build_world(scenario, seed, out_dir)
        if executor is not None:
            world.learning.attach(executor)
        Ledger(world.watcher, world.recorder, world.directory, scenario.costs)
        Oracle(world)
        if scenario.audit.enabled:
            Auditor(world)
        pop = factory(world)
        world.recorder.record(Kind.RUN_STARTED, None, detail=scenario.name)
        done = pop.start()
        limit = world.env.timeout(scenario.run.max_time_s)
        return cls(scenario, seed, out_dir, world, pop, done | limit, done, wall_start)

    @property
    def ended(self) -> bool:
        """The run has reached its end (work done or time limit)."""
        return self._ended

    def advance(self, seconds: float) -> bool:
        """Run ``seconds`` of simulated time, or until the run ends; True once it has."""
        if self.ended:
            return True
        if seconds <= 0:
            raise ConfigError(f"advance: expected a positive number of seconds, got {seconds}")
        # stop at the end event as run() does, even when it comes before the interval is up
        callbacks = self.end.callbacks
        if callbacks is not None and simpy.core.StopSimulation.callback not in callbacks:
            callbacks.append(simpy.core.StopSimulation.callback)
        self.world.env.run(until=self.world.env.now + seconds)
        return self.ended

    def close(self) -> None:
        """Release the run's resources (storage, the Mesa model); idempotent."""
        if self.closed:
            return
        self.closed = True
        self.world.store.close()
        self.population.close()

    def finish(self, keep: bool) -> RunResult:
        """Record the end balances and the end of the run; the tables and the summary
        (written to ``out_dir`` when ``keep``)."""
        self.close()
        world = self.world
        completed = self.done.triggered
        _record_final_balances(world)
        world.recorder.record(
            Kind.RUN_FINISHED,
            None,
            ok=completed,
            value=world.env.now,
            detail="completed" if completed else "stopped at run.max_time_s",
        )
        events = world.recorder.to_frame()
        summary = _summary(world, events, completed, time.perf_counter() - self.wall_start)
        series = self.population.series()
        if keep:
            _write_outputs(self.out_dir, world, summary, series)
        return RunResult(
            self.scenario,
            self.seed,
            world.run_id,
            events,
            summary,
            series,
            self.out_dir if keep else None,
        )


def _record_final_balances(world: World) -> None:
    """Record each agent's end balance and check that no wei was created or lost."""
    directory = world.directory
    for member in directory:
        # a Sybil's further accounts are its own money: one balance row per member
        held_by = directory.addresses(member.name)
        world.recorder.record(
            Kind.BALANCE, member.name, wei=sum(world.chain.balance(a) for a in held_by)
        )
    chain = world.chain
    accounts = {a.address for a in chain.genesis_accounts}
    accounts |= {a for member in directory for a in directory.addresses(member.name)}
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
    adaptation = s.adaptation
    if adaptation.enabled:  # only then: other runs' summaries are as before
        kinds = {role: list(adaptation.of(role).strategies) for role in adaptation.roles}
        summary.update(adaptation_summary(events, kinds))
    return summary


def _write_outputs(
    out_dir: Path, world: World, summary: dict[str, Any], series: pd.DataFrame
) -> None:
    world.recorder.write(out_dir / "events.parquet")
    with atomic_path(out_dir / "series.parquet") as tmp:
        series.to_parquet(tmp, index=False)
    text = json.dumps(_jsonable(summary), indent=2, sort_keys=True) + "\n"
    atomic_write(out_dir / "summary.json", text)
    atomic_write(out_dir / "scenario.toml", scenario_toml(world.scenario))


def write_run_report(run_dir: str | Path, out: str | Path | None = None) -> Path:
    """Render the report of the run in ``run_dir`` into ``out`` (default ``run_dir/report``);
    returns the path of its ``index.html``."""
    from analysis.run_report import render_run_report

    out_dir = Path(out) if out is not None else Path(run_dir) / "report"
    report = render_run_report(run_dir, out_dir)
    return write_page(out_dir, report.files, report.index)


def scenario_toml(scenario: Scenario) -> str:
    """The scenario as run, as a scenario file: every key with its value, defaults included.

    Unset optional keys (None) are left out, as in a file that omits them; ``baasim run`` on
    the text runs the same scenario (the same scenario hash).
    """
    from sim.sweep.spec import toml_value  # sim.sweep imports this module

    def plain(table: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in table.items() if v is not None}

    def section(name: str, table: dict[str, Any], header: str) -> list[str]:
        table = plain(table)
        nested = {k: v for k, v in table.items() if isinstance(v, dict) and _has_table(v)}
        lines = [
            f"{_toml_key(k)} = {toml_value(_stripped(v))}"
            for k, v in table.items()
            if k not in nested and not _is_table_list(v)
        ]
        if lines or header == "array":  # a table that only holds tables needs no header
            lines = [f"[{name}]" if header == "table" else f"[[{name}]]", *lines]
        for k, v in nested.items():
            lines += ["", *section(f"{name}.{_toml_key(k)}", v, "table")]
        return lines

    table = plain(to_table(scenario))
    top = [
        f"{_toml_key(k)} = {toml_value(_stripped(v))}"
        for k, v in table.items()
        if not isinstance(v, dict) and not _is_table_list(v)
    ]
    parts = ["# The scenario as run (baasim writes this file beside the run's tables)", *top]
    for k, v in table.items():
        if isinstance(v, dict):
            parts += ["", *section(k, v, "table")]
        elif _is_table_list(v):
            for item in v:
                parts += ["", *section(k, item, "array")]
    return "\n".join(parts) + "\n"


def _toml_key(key: str) -> str:
    """A bare key where TOML allows one, else a quoted one."""
    from sim.sweep.spec import toml_value

    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else toml_value(key)


def _has_table(table: dict[str, Any]) -> bool:
    return any(isinstance(v, dict) for v in table.values())


def _is_table_list(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, dict) for v in value)


def _stripped(value: Any) -> Any:
    """``value`` without None entries in its inline tables (TOML has no null)."""
    if isinstance(value, dict):
        return {k: _stripped(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_stripped(v) for v in value]
    return value


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
