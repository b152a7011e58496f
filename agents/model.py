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
from eth_utils import to_canonical_address

from contracts.chain import Touched
from contracts.units import Address

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
        self._touched_mark: Touched | None = None
        self._members_seen = 0
        self._held: dict[bytes, tuple[str, int, Address]] = {}
        """Each member's own account: its role, its balance as last read, its address."""
        self._online: dict[str, int] = {}
        """Participants online now, by role (kept by ``Participant.online``)."""
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
        """Participants of ``role`` online now (a count kept as they come and go, so a
        sample costs nothing per agent)."""
        return self._online.get(role, 0)

    def set_online(self, role: str, online: bool) -> None:
        """A participant of ``role`` came online (``online``) or went offline."""
        self._online[role] = self._online.get(role, 0) + (1 if online else -1)

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
            self._refresh_balances()
            self._balances_at = at
        return self._role_totals.get(role, 0) / 1e18

    def _refresh_balances(self) -> None:
        """Bring the role totals to the head: with an engine that tells which accounts
        changed (``Chain.touched``: revm), read only those and the members new since the last
        refresh; otherwise read every member's balance, as before."""
        chain = self.world.chain
        directory = self.world.directory
        mark, changed = chain.touched(self._touched_mark)
        if changed is None:
            totals: dict[str, int] = {}
            for m in directory:
                totals[m.role] = totals.get(m.role, 0) + chain.balance(m.address)
            self._role_totals = totals
            return
        totals = self._role_totals
        for address, role in directory.joined_since(self._members_seen):
            balance = chain.balance(address)
            self._held[to_canonical_address(address)] = (role, balance, address)
            totals[role] = totals.get(role, 0) + balance
        self._members_seen = len(directory)
        for key in changed:
            held = self._held.get(key)
            if held is None:
                continue  # not a member's own account (the market, the faucet, a Sybil's)
            role, old, address = held
            balance = chain.balance(address)
            if balance != old:
                self._held[key] = (role, balance, address)
                totals[role] += balance - old
        self._touched_mark = mark

    def offered(self, participant: Participant, task_id: int) -> bool | None:
        """Whether the market told ``participant`` of ``task_id`` (sampled offers), or
        None when every agent hears of every task and decides by itself."""
        return None

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
