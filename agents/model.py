"""The Mesa model of one market: the population, its processes and model-level series.

Its clock is the world's SimPy environment: Mesa holds the agents and the DataCollector,
SimPy decides when things happen. Who is who (name, address, role, behaviour) is the
world's ``Directory``; ``add`` registers a participant there when it joins the market.
``start`` launches every agent's processes and returns an event that fires when all
tracked work is done (every task settled and paid out).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import mesa
import pandas as pd
import simpy

if TYPE_CHECKING:
    from agents.base import Participant
    from sim.world import World


class MarketModel(mesa.Model):  # type: ignore[misc]
    """Participants of one run, and the run's model-level series."""

    def __init__(self, world: World):
        super().__init__(rng=world.streams.numpy("mesa"))
        self.world = world
        self._active = 0
        self._expecting_more = True
        self._done = world.env.event()
        self._balances_at: tuple[int, int, int] | None = None
        self._role_totals: dict[str, int] = {}
        reporters: dict[str, Any] = {
            "time": lambda m: m.world.env.now,
            "block": lambda m: m.world.chain.head_number,
            "online_contributors": lambda m: m.online_count("contributor"),
            "online_verifiers": lambda m: m.online_count("verifier"),
            "open_tasks": lambda m: len(m.world.watcher.open_tasks()),
            "market_balance_ether": lambda m: m.world.chain.balance(m.world.market.address) / 1e18,
            "initiator_balance_ether": lambda m: m.role_balance("initiator"),
            "contributor_balance_ether": lambda m: m.role_balance("contributor"),
            "verifier_balance_ether": lambda m: m.role_balance("verifier"),
            "transactions": lambda m: m.world.chain.tx_count,
            "bytes_moved": lambda m: m.world.network.bytes_moved,
        }
        adaptation = world.scenario.adaptation
        for role in adaptation.roles:  # only with [adaptation]: other runs' series are as before
            for kind in adaptation.of(role).strategies:
                reporters[f"share.{role}.{kind}"] = _share_reporter(role, kind)
        self.datacollector = mesa.DataCollector(model_reporters=reporters)

    def add(self, participant: Participant) -> None:
        """Register ``participant`` in the world's directory: it has joined the market."""
        self.world.directory.add(
            participant.name,
            participant.account.address,
            str(participant.role),
            participant.behaviour_name,
        )

    def participant(self, name: str) -> Participant | None:
        """The participant called ``name`` (from Mesa's agent set), None if there is none."""
        if name not in self.world.directory:
            return None
        found: Participant = next(p for p in self.agents if p.name == name)
        return found

    def online_count(self, role: str) -> int:
        return sum(1 for p in self.agents if p.online and str(p.role) == role)

    def strategy_share(self, role: str, kind: str) -> float:
        """Share of the role's agents (every one that joined) that play ``kind`` now."""
        members = [p for p in self.agents if str(p.role) == role]
        if not members:
            return math.nan
        return sum(1 for p in members if p.behaviour_name == kind) / len(members)

    def role_balance(self, role: str) -> float:
        """Ether held by the members of ``role``, summed from the chain's head state.

        Balances change only when a block is sealed and the directory only grows, so the
        totals of every role are read in one pass per (head, directory size) and reused by
        the samples in between (most samples: the collector ticks every minute, blocks come
        when transactions wait). The sums are of integers in wei: the same in any grouping.
        """
        chain = self.world.chain
        directory = self.world.directory
        at = (chain.head_number, chain.head_timestamp, len(directory))
        if self._balances_at != at:
            totals: dict[str, int] = {}
            for m in directory:
                totals[m.role] = totals.get(m.role, 0) + chain.balance(m.address)
            self._balances_at, self._role_totals = at, totals
        return self._role_totals.get(role, 0) / 1e18

    def work_ended(self, participant: Participant) -> None:
        """A process of ``participant`` ended (adaptive populations revise strategies here)."""

    # ---------------------------------------------------------------- work tracking

    def track(self, process: simpy.Process) -> simpy.Process:
        """Count ``process`` as outstanding work until it ends."""
        self._active += 1
        process.callbacks.append(self._finished)
        return process

    def no_more_work_expected(self) -> None:
        """Called once every task has been created: the run may end when work drains."""
        self._expecting_more = False
        self._check_done()

    def _finished(self, _event: Any) -> None:
        self._active -= 1
        self._check_done()

    def _check_done(self) -> None:
        if not self._expecting_more and self._active == 0 and not self._done.triggered:
            self._done.succeed()

    @property
    def done(self) -> simpy.Event:
        return self._done

    # ---------------------------------------------------------------- series

    def collector(self, interval: float) -> Any:
        """A process that samples the model-level series every ``interval`` seconds."""
        while True:
            self.datacollector.collect(self)
            yield self.world.env.timeout(interval)

    def close(self) -> None:
        """Forget this model in Mesa's class-level id counters (which would keep the whole
        run — world, data set, chain — alive for the life of the process)."""
        mesa.Agent._ids.pop(self, None)

    def series(self) -> pd.DataFrame:
        frame: pd.DataFrame = self.datacollector.get_model_vars_dataframe()
        return frame.reset_index(drop=True)


def _share_reporter(role: str, kind: str) -> Callable[[MarketModel], float]:
    return lambda m: m.strategy_share(role, kind)
