"""The default population: builds the agents a scenario describes and starts them.

Registered as the ``default`` entry of the ``baasim.populations`` entry-point group, which
is how ``sim.run`` finds it without importing ``agents``. ``build(world)`` returns the
``MarketModel``; its ``start()`` launches the processes and returns the event that fires
when all work is done.
"""

from __future__ import annotations

import simpy

from agents.base import Participant, Process
from agents.behaviours import ContributorBehaviour, VerifierBehaviour
from agents.contributor import Contributor
from agents.initiator import Initiator
from agents.model import MarketModel
from agents.verifier import Verifier
from contracts.taskmarket import MarketEvent, TaskCreated
from sim.recorder import Kind
from sim.world import World


class DefaultPopulation(MarketModel):
    """Initiators, contributors and verifiers in the numbers the scenario gives."""

    def __init__(self, world: World):
        super().__init__(world)
        pop = world.scenario.population
        streams = world.streams
        bandwidth = pop.bandwidth_mbps.sample(
            streams.numpy("bandwidth"), pop.initiators + pop.contributors + pop.verifiers
        )
        c_speed = pop.contributor_speed.sample(
            streams.numpy("speed", "contributor"), pop.contributors
        )
        v_speed = pop.verifier_speed.sample(streams.numpy("speed", "verifier"), pop.verifiers)
        accounts = iter(world.agent_accounts)
        bw = iter(float(b) for b in bandwidth)
        self.initiators = [
            Initiator(self, i, next(accounts), 1.0, next(bw)) for i in range(pop.initiators)
        ]
        self.contributors = [
            Contributor(
                self, i, next(accounts), ContributorBehaviour(), float(c_speed[i]), next(bw)
            )
            for i in range(pop.contributors)
        ]
        self.verifiers = [
            Verifier(self, i, next(accounts), VerifierBehaviour(), float(v_speed[i]), next(bw))
            for i in range(pop.verifiers)
        ]
        for p in (*self.initiators, *self.contributors, *self.verifiers):
            self.add(p)

    def start(self) -> simpy.Event:
        world = self.world
        for p in self.participants.values():
            self.record_funding(p)
        world.watcher.subscribe(TaskCreated, self._announce)
        last = 0.0
        for template in world.scenario.tasks:
            initiator = self.initiators[template.initiator]
            for at in initiator.schedule(template):
                initiator.start(template, at)
                last = max(last, at)
        world.env.process(self.collector(world.scenario.run.collect_interval_s))
        world.env.process(self._all_created(last))
        return self.done

    def record_funding(self, p: Participant) -> None:
        self.world.recorder.record(Kind.FUNDED, p.name, wei=p.balance())

    def _all_created(self, last: float) -> Process:
        yield self.world.env.timeout(last)
        self.no_more_work_expected()

    def _announce(self, event: MarketEvent) -> None:
        if not isinstance(event, TaskCreated):
            return
        entry = self.world.watcher.tasks.get(event.task_id)
        if entry is None:
            return
        for c in self.contributors:
            c.on_task(entry)
        for v in self.verifiers:
            v.on_task(entry)


def build(world: World) -> DefaultPopulation:
    """Entry point ``baasim.populations:default``."""
    return DefaultPopulation(world)
