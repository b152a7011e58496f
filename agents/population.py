"""The default population: builds the agents a scenario describes and starts them.

Registered as the ``default`` entry of the ``baasim.populations`` entry-point group, which
is how ``sim.run`` finds it without importing ``agents``. ``build(world)`` returns the
``MarketModel``; its ``start()`` launches the processes — task creation, churn — and returns
the event that fires when all work is done.

Behaviour kinds are dealt from the scenario's mixes with the ``behaviour`` RNG stream (so
dishonest agents are not always the last indices), then ``population.assign`` pins and
``population.deviants`` switch agents without changing anyone else's draw
(``sim.strategies.kinds_of``); each agent's strategy comes from the
scenario's strategy registry (``sim.strategies``) with its kind's ``[behaviours.<kind>]``
parameters. Newcomers (churn arrivals, agents a
trace introduces) get fresh accounts funded by the faucet and a kind drawn from the mix's
fractions.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import simpy

from agents.adaptation import Adaptation
from agents.base import Participant, Process
from agents.contributor import Contributor
from agents.initiator import Initiator
from agents.model import MarketModel
from agents.verifier import Verifier
from contracts.chain import Account
from contracts.taskmarket import MarketEvent, TaskCreated
from sim import churn
from sim.recorder import Kind
from sim.strategies import kinds_of
from sim.world import World


class DefaultPopulation(MarketModel):
    """Initiators, contributors and verifiers in the numbers and mixes the scenario gives."""

    def __init__(self, world: World):
        super().__init__(world)
        pop = world.scenario.population
        streams = world.streams
        self.adaptation = Adaptation(self) if world.scenario.adaptation.enabled else None
        self._bandwidth = streams.numpy("bandwidth")
        self._speeds = {
            "contributor": streams.numpy("speed", "contributor"),
            "verifier": streams.numpy("speed", "verifier"),
        }
        self._newcomers = streams.numpy("newcomers")
        accounts = iter(world.agent_accounts)
        # the initiators' deal has its own stream: adding it shifted no other draw
        i_kinds = self._kinds("initiator", pop.initiator_behaviours, pop.initiators, "i")
        self.initiators = [
            Initiator(
                self,
                i,
                next(accounts),
                self.strategy_of("initiator", kind),
                1.0,
                self._draw_bandwidth(),
            )
            for i, kind in enumerate(i_kinds)
        ]
        c_kinds = self._kinds("contributor", pop.contributor_behaviours, pop.contributors, "c")
        v_kinds = self._kinds("verifier", pop.verifier_behaviours, pop.verifiers, "v")
        self.contributors: list[Contributor] = []
        self.verifiers: list[Verifier] = []
        for kind in c_kinds:
            self._add_contributor(next(accounts), kind)
        for kind in v_kinds:
            self._add_verifier(next(accounts), kind)
        for p in self.initiators:
            self.add(p)

    # ---------------------------------------------------------------- agents

    def _kinds(self, role: str, mix: dict[str, int | float], n: int, stream: str) -> list[str]:
        """The role's kinds: dealt with its ``behaviour`` stream, then pins and deviants."""
        pop = self.world.scenario.population
        streams = self.world.streams
        deviants = pop.deviants.get(role)
        return kinds_of(
            role,
            mix,
            n,
            streams.numpy("behaviour", stream),
            pop.assign,
            deviants,
            streams.numpy("deviants", role) if deviants else None,
        )

    def strategy_of(self, role: str, kind: str) -> Any:
        """A fresh strategy of ``(role, kind)`` with the scenario's parameters for it."""
        behaviours = self.world.scenario.behaviours
        found = behaviours.registry.get(role, kind)
        return found.strategy(behaviours[kind], kind)

    def _draw_bandwidth(self) -> float:
        return self.world.scenario.population.bandwidth_mbps.draw(self._bandwidth)

    def _add_contributor(self, account: Account, kind: str) -> Contributor:
        pop = self.world.scenario.population
        speed = pop.contributor_speed.draw(self._speeds["contributor"])
        behaviour = self.strategy_of("contributor", kind)
        c = Contributor(
            self, len(self.contributors), account, behaviour, speed, self._draw_bandwidth()
        )
        self.contributors.append(c)
        self.add(c)
        return c

    def _add_verifier(self, account: Account, kind: str) -> Verifier:
        pop = self.world.scenario.population
        speed = pop.verifier_speed.draw(self._speeds["verifier"])
        behaviour = self.strategy_of("verifier", kind)
        v = Verifier(self, len(self.verifiers), account, behaviour, speed, self._draw_bandwidth())
        self.verifiers.append(v)
        self.add(v)
        return v

    def add(self, participant: Participant) -> None:
        super().add(participant)
        if self.adaptation is not None:
            self.adaptation.attach(participant)

    def work_ended(self, participant: Participant) -> None:
        if self.adaptation is not None:
            self.adaptation.work_ended(participant)

    def newcomer(self, role: str) -> Participant:
        """A new agent of ``role`` with a fresh account the faucet funds (not yet online)."""
        pop = self.world.scenario.population
        mix = pop.contributor_behaviours if role == "contributor" else pop.verifier_behaviours
        kind = _draw_kind(mix, self._newcomers)
        account = self.world.open_account()
        agent: Participant = (
            self._add_contributor(account, kind)
            if role == "contributor"
            else self._add_verifier(account, kind)
        )
        agent.online = False
        self.world.recorder.record(
            Kind.FUNDED, agent.name, wei=self.world.scenario.chain.genesis_balance
        )
        return agent

    # ---------------------------------------------------------------- start

    def start(self) -> simpy.Event:
        world = self.world
        for member in world.directory:
            world.recorder.record(Kind.FUNDED, member.name, wei=world.chain.balance(member.address))
        world.watcher.subscribe(TaskCreated, self._announce)
        last = 0.0
        for template in world.scenario.tasks:
            initiator = self.initiators[template.initiator]
            for at in initiator.schedule(template):
                initiator.start(template, at)
                last = max(last, at)
        world.env.process(self.collector(world.scenario.run.collect_interval_s))
        world.env.process(self._all_created(last))
        self._start_churn()
        if self.adaptation is not None:
            self.adaptation.start()
        return self.done

    def _all_created(self, last: float) -> Process:
        yield self.world.env.timeout(last)
        self.no_more_work_expected()

    def _announce(self, event: MarketEvent) -> None:
        if not isinstance(event, TaskCreated):
            return
        entry = self.world.watcher.tasks.get(event.task_id)
        if entry is None:
            return
        for agent in (*self.contributors, *self.verifiers):
            agent.on_task(entry)

    # ---------------------------------------------------------------- churn

    def _start_churn(self) -> None:
        env = self.world.env
        spec = self.world.scenario.churn
        for role, rc, agents in (
            ("contributor", spec.contributors, self.contributors),
            ("verifier", spec.verifiers, self.verifiers),
        ):
            rng = self.world.streams.numpy("churn", role)
            if rc.trace is not None:
                self._replay(role, churn.read_trace(rc.trace, rc.trace_sha256))
                continue
            for agent in list(agents):
                env.process(churn.sessions(env, agent, rc, rng))
            arrivals = self.world.streams.numpy("arrivals", role)
            env.process(
                churn.arrivals(env, rc, arrivals, self._arrive(role), self._sessions_for(rc, rng))
            )

    def _arrive(self, role: str) -> Callable[[], Participant]:
        def make() -> Participant:
            agent = self.newcomer(role)
            agent.come_online()
            return agent

        return make

    def _sessions_for(
        self, rc: churn.RoleChurn, rng: np.random.Generator
    ) -> Callable[[churn.Member], None]:
        def start(member: churn.Member) -> None:
            self.world.env.process(churn.sessions(self.world.env, member, rc, rng))

        return start

    def _replay(self, role: str, sessions: list[churn.Session]) -> None:
        env = self.world.env
        by_agent: dict[str, list[churn.Session]] = {}
        for s in sessions:
            by_agent.setdefault(s.agent, []).append(s)
        for name in sorted(by_agent, key=lambda n: int(n.rpartition("-")[2])):
            agent = self.participant(name)
            while agent is None:
                self.newcomer(role)
                agent = self.participant(name)
            env.process(churn.replay(env, agent, by_agent[name]))


def _draw_kind(mix: dict[str, int | float], rng: np.random.Generator) -> str:
    """A newcomer's kind: each fraction of the mix is its probability; the rest honest."""
    kinds = sorted(k for k, v in mix.items() if isinstance(v, float))
    weights = [float(mix[k]) for k in kinds]
    u = float(rng.random())
    for kind, w in zip(kinds, weights, strict=True):
        if u < w:
            return kind
        u -= w
    return "honest"


def build(world: World) -> DefaultPopulation:
    """Entry point ``baasim.populations:default``."""
    return DefaultPopulation(world)
