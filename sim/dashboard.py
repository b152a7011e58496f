"""The live view of a run in the browser: Mesa's SolaraViz around a run that steps on demand.

``DashboardModel`` is the Mesa model SolaraViz drives: it builds the run exactly as
``sim.run`` does (``sim.runner.LiveRun``) and each ``step()`` advances the SimPy clock by
``step_s`` simulated seconds (the SimPy clock stays the only clock; a step is a window of
simulated time, not a tick of its own). SolaraViz gives step, play/pause and reset; its
sliders (lazy-verifier share, verifier stake, slash fraction, committee size, seconds per
step) are model parameters, so Reset rebuilds the run with the values they show.

The components draw from the run's event table and model-level series as they grow, with
the same views and figures as the run report (``analysis.run_tables``,
``analysis.run_figures``): balances by role, agents online and open tasks, a table of tasks
and their phase, and the latest committee reports beside the truth.

``sim.dashboard_app`` holds the page Solara serves; ``baasim dashboard`` starts the server.
Solara and Mesa's visualisation are optional (the ``dashboard`` extra); this module imports
them, so only the dashboard's code imports it.
"""

from __future__ import annotations

import html
import shutil
import tempfile
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mesa
import pandas as pd
import solara
from mesa.visualization import Slider, SolaraViz
from solara.components.image import Image
from solara.components.markdown import Markdown

from analysis import run_figures, run_tables
from sim.config import to_table
from sim.errors import ConfigError
from sim.runner import LiveRun, load_population, resolve
from sim.scenario import Scenario, with_values

LAZY = "population.verifier_behaviours.lazy"


@dataclass(frozen=True)
class Settings:
    """The scenario values the sliders set (None: the scenario's own)."""

    lazy_share: float | None = None
    stake_ether: float | None = None
    slash_fraction: float | None = None
    committee_size: int | None = None


def apply(scenario: Scenario, settings: Settings) -> Scenario:
    """``scenario`` with the sliders' values (every task template gets the task values);
    values equal to the scenario's change nothing, so the default dashboard runs the same
    scenario as ``baasim run``."""
    table = to_table(scenario)
    values: dict[str, Any] = {}
    lazy = float(table["population"]["verifier_behaviours"].get("lazy", 0.0))
    if settings.lazy_share is not None and settings.lazy_share != lazy:
        values[LAZY] = settings.lazy_share
    per_task = {
        "verifier_stake_ether": settings.stake_ether,
        "slash_fraction": settings.slash_fraction,
        "committee_size": settings.committee_size,
    }
    for i, task in enumerate(table["tasks"]):
        for key, value in per_task.items():
            if value is not None and value != task[key]:
                values[f"tasks[{i}].{key}"] = value
    return with_values(scenario, values, where="dashboard") if values else scenario


class DashboardModel(mesa.Model):  # type: ignore[misc]
    """One run, advanced ``step_s`` simulated seconds per Mesa step."""

    def __init__(
        self,
        scenario: str = "",
        seed: int = 0,
        overrides: Sequence[str] = (),
        step_s: float = 600.0,
        lazy_share: float | None = None,
        stake_ether: float | None = None,
        slash_fraction: float | None = None,
        committee_size: int | None = None,
    ):
        # Mesa's own generators are seeded here: nothing draws from them, and an unseeded
        # Model would seed itself from the global RNG
        super().__init__(seed=seed)
        if step_s <= 0:
            raise ConfigError(f"dashboard: seconds per step must be positive, got {step_s}")
        settings = Settings(lazy_share, stake_ether, slash_fraction, committee_size)
        self.scenario = apply(resolve(scenario, overrides), settings)
        self.seed = seed
        self.step_s = float(step_s)
        self._tmp = Path(tempfile.mkdtemp(prefix="baasim-dashboard-"))
        factory = load_population(self.scenario.population.plugin)
        self.live = LiveRun.start(self.scenario, seed, self._tmp, factory)
        # a model Reset replaces is released when it is collected
        weakref.finalize(self, _release, self.live, self._tmp)
        self.summary: dict[str, Any] | None = None
        self._events: tuple[int, pd.DataFrame] | None = None

    def step(self) -> None:
        if self.live.advance(self.step_s) and self.summary is None:
            self.summary = self.live.finish(keep=False).summary
            self.running = False

    # ---------------------------------------------------------------- what components read

    @property
    def now(self) -> float:
        return float(self.live.world.env.now)

    @property
    def status(self) -> str:
        if self.summary is not None:
            return str(self.summary["status"])
        return "running"

    def events(self) -> pd.DataFrame:
        """The event table so far (rebuilt only when rows were added)."""
        rows = len(self.live.world.recorder.rows)
        if self._events is None or self._events[0] != rows:
            self._events = (rows, self.live.world.recorder.to_frame())
        return self._events[1]

    def series(self) -> pd.DataFrame:
        return self.live.population.series()


def _release(live: LiveRun, tmp: Path) -> None:
    live.close()
    shutil.rmtree(tmp, ignore_errors=True)


# ---------------------------------------------------------------- components


def status_view(model: DashboardModel) -> Any:
    """Where the run stands: simulated time, blocks, tasks, transactions."""
    ev = model.events()
    div, unit = run_figures.time_unit(max(model.now, 1.0))
    tasks = int((ev["kind"] == "task_created").sum())
    text = (
        f"**{html.escape(model.scenario.name)}**, seed {model.seed}: {model.status}. "
        f"Simulated time **{model.now:,.0f} s** ({model.now / div:,.2f} {unit}), "
        f"block {model.live.world.chain.head_number:,}, {tasks} task(s) created, "
        f"{int((ev['kind'] == 'tx').sum()):,} transactions, {len(ev):,} events. "
        f"Each step advances the clock {model.step_s:,.0f} s."
    )
    return Markdown(text, style={"padding": "0.5em"})


def balances_view(model: DashboardModel) -> Any:
    """Money each role moved, and balances held by role and by the market contract."""
    series = model.series()
    png = (
        run_figures.balances(run_tables.balances(series), run_tables.flows(model.events()))
        if len(series)
        else None
    )
    return _image(png, "balances", "balances appear after the first sample")


def activity_view(model: DashboardModel) -> Any:
    """Agents online per role and open tasks over time."""
    return _image(run_figures.activity(model.series()), "activity", "no sample yet")


def tasks_view(model: DashboardModel) -> Any:
    """A table of the tasks and their phase now."""
    status = run_tables.task_status(model.events(), model.now)
    if status.empty:
        return solara.HTML(
            tag="div", unsafe_innerHTML="<p>No task created yet.</p>", classes=["baasim-tasks"]
        )
    shown = status.drop(columns=["created_s"]).rename(columns=lambda c: c.replace("_", " "))
    table = shown.to_html(index=False, float_format=lambda x: f"{x:.4f}", na_rep="–")
    return solara.HTML(
        tag="div",
        unsafe_innerHTML=f"<h4>Tasks and their phase</h4>{table}",
        classes=["baasim-tasks"],
    )


def reports_view(model: DashboardModel) -> Any:
    """The latest committee reports beside what each member would have found honestly."""
    ev = model.events()
    scenario = to_table(model.scenario)
    claims = run_tables.claims(ev, run_tables.mafr_by_task(ev, scenario))
    if claims.empty:
        return solara.HTML(
            tag="div",
            unsafe_innerHTML="<p>No committee report yet.</p>",
            classes=["baasim-reports"],
        )
    recent = sorted(set(claims["task"]))[-6:]
    latest = claims[claims["task"].isin(recent)]
    table = (
        latest.tail(10)
        .assign(gap=latest["reported"] - latest["honest"])
        .to_html(index=False, float_format=lambda x: f"{x:.4f}", na_rep="–")
    )
    with solara.Column(classes=["baasim-reports"]) as column:
        _image(run_figures.claims(latest), "claims", "")
        solara.HTML(tag="div", unsafe_innerHTML=f"<h4>Latest reports</h4>{table}")
    return column


def _image(png: bytes | None, name: str, empty: str) -> Any:
    if png is None:
        return solara.HTML(tag="p", unsafe_innerHTML=html.escape(empty), classes=[f"baasim-{name}"])
    return Image(png, width="100%", classes=[f"baasim-{name}"])


COMPONENTS: tuple[Callable[[DashboardModel], Any], ...] = (
    status_view,
    tasks_view,
    balances_view,
    activity_view,
    reports_view,
)


def model_params(model: DashboardModel, scenario: str, overrides: Sequence[str]) -> dict:
    """SolaraViz's model parameters: the fixed ones and a slider per adjustable value."""
    s = model.scenario
    task = s.tasks[0]
    lazy = float(dict(s.population.verifier_behaviours).get("lazy", 0.0))
    stake_max = max(10.0, 4 * task.verifier_stake_ether)
    return {
        "scenario": scenario,
        "seed": model.seed,
        "overrides": tuple(overrides),
        "step_s": Slider("simulated seconds per step", model.step_s, 60.0, 7200.0, 60.0),
        "lazy_share": Slider("lazy verifiers (share)", lazy, 0.0, 1.0, 0.05),
        "stake_ether": Slider(
            "verifier stake (ether)", task.verifier_stake_ether, 0.0, stake_max, 0.1
        ),
        "slash_fraction": Slider("slash fraction", task.slash_fraction, 0.0, 1.0, 0.05),
        "committee_size": Slider(
            "committee size", task.committee_size, 1, s.population.verifiers, 1
        ),
    }


def build_page(
    scenario: str, seed: int = 0, overrides: Sequence[str] = (), step_s: float = 600.0
) -> Any:
    """The SolaraViz page of ``scenario`` (what ``sim.dashboard_app`` serves)."""
    model = DashboardModel(scenario, seed, overrides, step_s)
    return SolaraViz(
        model,
        components=[(c, 0) for c in COMPONENTS],
        model_params=model_params(model, scenario, overrides),
        name=f"baasim: {model.scenario.name}",
        play_interval=200,
    )
