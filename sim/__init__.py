"""baasim's substrate: the world agents live in.

Scenario loading, the SimPy clock, the network model, the in-process chain, content-addressed
storage, learning (data, models, training, fusion, contribution), churn, the recorder, the run
loop and the CLI. ``sim`` never imports ``agents``: the run loop receives agent factories.

The Python API: ``sim.run(scenario_or_path, seed) -> sim.RunResult`` (``sim.runner.run``),
imported on first use so that ``import sim`` stays light.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sim.runner import RunResult, run

__all__ = ["RunResult", "run"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from sim import runner

        return getattr(runner, name)
    raise AttributeError(f"module 'sim' has no attribute {name!r}")
