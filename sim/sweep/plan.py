"""A sweep's plan: every grid point as a validated scenario, and every (point, seed) run.

``build_plan`` loads the base scenario, applies the sweep's fixed ``[set]`` values, then
derives one scenario per grid point with ``sim.scenario.with_values`` (the same typed,
validated path ``--set`` takes). A bad value stops here, before anything runs, with a
message naming the sweep, the point and its values. A run's id is the run id ``sim.run``
gives it: the scenario's name, its hash (point and base together) and the seed, so a run
means the same thing in any sweep directory.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sim.config import to_table
from sim.errors import ConfigError
from sim.scenario import Scenario, load_scenario, with_values
from sim.sweep.spec import GridPoint, SweepSpec, expand, grid, to_toml

FORMAT = 1
"""Version of the ``sweep.json`` layout."""


def run_id(scenario: Scenario, seed: int) -> str:
    """The id ``sim.runner.run`` gives this run (``sim.world.run_id_for``)."""
    return f"{scenario.name}-{scenario.digest[:10]}-s{seed}"


@dataclass(frozen=True)
class Point:
    """One grid point: its index, the values it sets and the scenario they give."""

    index: int
    values: Mapping[str, Any]
    scenario: Scenario

    @property
    def label(self) -> str:
        return ", ".join(f"{k}={_show(v)}" for k, v in self.values.items()) or "base scenario"


@dataclass(frozen=True)
class Job:
    """One run to do: a point's scenario with one seed. Sent to worker processes."""

    run_id: str
    point: int
    seed: int
    scenario: Scenario
    threads: int | None = None
    """Torch threads in the worker (None: leave torch's default)."""


@dataclass(frozen=True)
class Plan:
    """Everything a sweep will run."""

    spec: SweepSpec
    base: Scenario
    points: tuple[Point, ...]
    seeds: tuple[int, ...]
    base_text: str = ""
    """The base scenario file as written, for the report."""

    def jobs(self, threads: int | None = None) -> list[Job]:
        """Every run, point by point, seed by seed."""
        return [
            Job(run_id(p.scenario, s), p.index, s, p.scenario, threads)
            for p in self.points
            for s in self.seeds
        ]

    def to_table(self) -> dict[str, Any]:
        """The plan as plain data (``sweep.json``): what the analysis side reads."""
        spec = self.spec
        table: dict[str, Any] = plain(
            {
                "format": FORMAT,
                "name": spec.name,
                "description": spec.description,
                "source": spec.source,
                "definition": to_toml(spec),
                "base_scenario": {
                    "path": spec.scenario,
                    "name": self.base.name,
                    "hash": self.base.digest,
                    "text": self.base_text,
                    "table": to_table(self.base),
                },
                "set": dict(spec.set),
                "parameters": list(spec.parameters),
                "axes": [
                    [{"key": p.key, "values": list(expand(p))} for p in axis.params]
                    for axis in spec.vary
                ],
                "seeds": list(self.seeds),
                "points": [
                    {
                        "point": p.index,
                        "label": p.label,
                        "values": dict(p.values),
                        "scenario_hash": p.scenario.digest,
                    }
                    for p in self.points
                ],
                "runs": [
                    {"run_id": j.run_id, "point": j.point, "seed": j.seed} for j in self.jobs()
                ],
            }
        )
        return table


def build_plan(spec: SweepSpec) -> Plan:
    """Validate every point of ``spec`` against its base scenario; nothing runs yet."""
    base = load_scenario(spec.scenario)
    if spec.set:
        base = with_values(base, spec.set, where=f"{spec.source}: [set]")
    points = tuple(
        Point(i, values, _derive(base, spec, i, values)) for i, values in enumerate(grid(spec))
    )
    _check_distinct(points, spec.source)
    try:
        text = Path(spec.scenario).read_text()
    except OSError:
        text = ""
    return Plan(spec, base, points, spec.seed_list(base.run.seeds), text)


def _derive(base: Scenario, spec: SweepSpec, index: int, values: GridPoint) -> Scenario:
    label = Point(index, values, base).label
    return with_values(base, values, where=f"{spec.source}: point {index} ({label})")


def _check_distinct(points: tuple[Point, ...], source: str) -> None:
    seen: dict[str, Point] = {}
    for p in points:
        other = seen.setdefault(p.scenario.digest, p)
        if other is not p:
            raise ConfigError(
                f"{source}: point {p.index} ({p.label}) gives the same scenario as point "
                f"{other.index} ({other.label}); every point must differ"
            )


def _show(value: Any) -> str:
    return json.dumps(plain(value)) if not isinstance(value, str) else value


def plain(obj: Any) -> Any:
    """JSON-safe plain data: tuples as lists, non-finite floats as strings."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return str(obj)
    if isinstance(obj, Mapping):
        return {str(k): plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [plain(v) for v in obj]
    return obj
