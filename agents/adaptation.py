"""Adaptive agents: strategies revised from realised profits (``[adaptation]``).

Each agent of an adapting role keeps a ``ProfitBook``: what it knows of its own money per
task — the gas fees and values of its own transactions, the cost of its own compute, and
the payments the market's events credit to its own address (pay, returned stakes,
refunds). A task's profit counts once the task is settled and the agent's work on it ended;
the agent then remembers it under the kind it played the task with (a revision applies to
the tasks taken after it). Nothing here reads the oracle, the event table or another
agent's book, except what a peer tells: under imitation a peer reports its recent profit
per task, and the question and the answer each take a message's latency.

The rules (``sim.adaptation`` has the keys):

- ``imitation`` — pairwise comparison: the agent asks a random online peer of its role for
  its kind and its profit per task over its window, and adopts that kind with probability
  1 / (1 + exp(−β (π_peer − π_self))), profits in ether per task.
- ``best_response`` — ε-greedy (the kind with the best running mean, or a uniform draw with
  probability ``explore``) or softmax over the set, on the agent's own running means per
  kind over its window; a kind not played yet counts ``optimistic_ether``.
- ``replicator`` — the role's shares x move by x'_s = x_s · max(0, 1 + β (π_s − π̄)) on the
  mean profit per task π_s of the agents holding each kind, then mix with the mutation
  (1 − ε) x' + ε/|set|, and are realised by switching as few agents as the rounded target
  needs (which ones: a draw).

Every rule first mutates with probability ε (a uniformly drawn kind). Randomness comes from
streams of their own (``("adapt", role, index)`` per agent, ``("adapt", role)`` for the
replicator), so a run without adaptation draws exactly what it drew before. A change of kind
is a ``strategy_revised`` row.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from contracts.taskmarket import (
    ContributorPaid,
    MarketEvent,
    Refunded,
    StakeReturned,
    TaskCancelled,
    TaskFinalized,
    VerifierPaid,
)
from contracts.units import ETHER, TaskId
from sim.adaptation import RoleAdaptation
from sim.recorder import Kind

from .base import Participant, Process

if TYPE_CHECKING:
    from agents.population import DefaultPopulation

_PAYMENTS: dict[type[MarketEvent], str] = {
    ContributorPaid: "contributor",
    VerifierPaid: "verifier",
    StakeReturned: "verifier",
    Refunded: "initiator",
}
"""Market events that credit an account, and the role (attribute) of the account."""
_PAYMENT_TYPES = (ContributorPaid, VerifierPaid, StakeReturned, Refunded)


class ProfitBook:
    """One agent's own profit per task, and its memory of settled tasks per kind."""

    def __init__(self, window: int):
        self._open: dict[int, list[Any]] = {}
        """Task -> [wei so far, kind played]."""
        self._memory: dict[str, deque[int]] = {}
        self._window = window

    def take(self, task: int, kind: str) -> None:
        """The agent took ``task`` playing ``kind``."""
        entry = self._open.setdefault(task, [0, kind])
        entry[1] = kind

    def add(self, task: int, wei: int) -> None:
        """Money in (positive) or out (negative) on ``task``."""
        if task in self._open:
            self._open[task][0] += int(wei)

    def close(self, settled: Any) -> int:
        """Move every task for which ``settled(task)`` holds into memory; how many moved."""
        done = [t for t in self._open if settled(t)]
        for t in done:
            wei, kind = self._open.pop(t)
            self._memory.setdefault(kind, deque(maxlen=self._window)).append(wei)
        return len(done)

    def mean(self, kind: str) -> float | None:
        """Profit per task (ether) over the window of settled tasks played as ``kind``."""
        found = self._memory.get(kind)
        if not found:
            return None
        return float(sum(found)) / len(found) / ETHER

    def tasks(self, kind: str) -> int:
        return len(self._memory.get(kind, ()))


class Adaptation:
    """Runs the revision rules of every adapting role of one market."""

    def __init__(self, model: DefaultPopulation):
        self.model = model
        self.world = model.world
        spec = self.world.scenario.adaptation
        self.specs: dict[str, RoleAdaptation] = {r: spec.of(r) for r in spec.roles}
        self._streams: dict[str, np.random.Generator] = {}
        self.world.watcher.subscribe(MarketEvent, self._on_event)

    # ---------------------------------------------------------------- who adapts

    def agents(self, role: str) -> list[Participant]:
        """The role's agents, in the order they joined."""
        found: list[Participant] = {
            "contributor": self.model.contributors,
            "verifier": self.model.verifiers,
            "initiator": self.model.initiators,
        }[role]
        return found

    def attach(self, agent: Participant) -> None:
        """Give ``agent`` a profit book (and its revision clock) when its role adapts."""
        spec = self.specs.get(str(agent.role))
        if spec is None:
            return
        agent.profits = ProfitBook(spec.window)
        if spec.revise == "poisson" and spec.rule != "replicator":
            self.world.env.process(self._clock(agent, spec))

    def start(self) -> None:
        """Start the role-level clocks (the replicator at a Poisson rate)."""
        for role, spec in self.specs.items():
            if spec.rule == "replicator" and spec.revise == "poisson":
                self.world.env.process(self._role_clock(role, spec))

    def stream(self, agent: Participant) -> np.random.Generator:
        """The agent's own stream for revisions."""
        if agent.name not in self._streams:
            self._streams[agent.name] = self.world.rng("adapt", str(agent.role), agent.index)
        return self._streams[agent.name]

    # ---------------------------------------------------------------- what agents learn

    def _on_event(self, e: MarketEvent) -> None:
        role = _PAYMENTS.get(type(e))
        if isinstance(e, _PAYMENT_TYPES) and role is not None and role in self.specs:
            address = getattr(e, role)
            name = self.world.directory.name_of(address)
            agent = self.model.participant(name) if name else None
            if agent is not None:
                agent.book(e.task_id, int(e.amount))
            return
        if isinstance(e, (TaskFinalized, TaskCancelled)):
            for role, spec in self.specs.items():
                if spec.rule == "replicator" and spec.revise == "after_task":
                    # after every event of this block (the task's payments) is booked
                    self.world.env.process(self._replicate_later(role, spec, e.task_id))

    def _settled(self, task: int) -> bool:
        entry = self.world.watcher.tasks.get(TaskId(task))
        return entry is not None and not entry.open

    def work_ended(self, agent: Participant) -> None:
        """A process of ``agent`` ended: book the tasks that settled, maybe revise."""
        spec = self.specs.get(str(agent.role))
        if spec is None or agent.profits is None:
            return
        closed = agent.profits.close(self._settled)
        if closed and spec.revise == "after_task" and spec.rule != "replicator":
            self.world.env.process(self._revise(agent, spec))

    # ---------------------------------------------------------------- individual rules

    def _clock(self, agent: Participant, spec: RoleAdaptation) -> Process:
        rng = self.world.rng("adapt", "clock", str(agent.role), agent.index)
        mean_s = 3600.0 / spec.rate_per_hour
        while not agent.departed:
            yield self.world.env.timeout(float(rng.exponential(mean_s)))
            if agent.online and not agent.departed:
                if agent.profits is not None:
                    agent.profits.close(self._settled)
                yield from self._revise(agent, spec)

    def _revise(self, agent: Participant, spec: RoleAdaptation) -> Process:
        rng = self.stream(agent)
        current = agent.behaviour_name
        if spec.mutation > 0 and rng.random() < spec.mutation:
            kind = spec.strategies[int(rng.integers(len(spec.strategies)))]
            self.switch(agent, kind, "mutation", self._mean(agent, current), None)
            return None
        if spec.rule == "imitation":
            yield from self._imitate(agent, spec, rng)
        elif spec.rule == "best_response":
            self._best_response(agent, spec, rng)
        return None

    def _mean(self, agent: Participant, kind: str) -> float | None:
        return agent.profits.mean(kind) if agent.profits is not None else None

    def _imitate(
        self, agent: Participant, spec: RoleAdaptation, rng: np.random.Generator
    ) -> Process:
        peers = [p for p in self.agents(str(agent.role)) if p is not agent and p.online]
        if not peers:
            return None
        peer = peers[int(rng.integers(len(peers)))]
        u = float(rng.random())  # drawn now: the draw count never depends on the answer
        env = self.world.env
        yield env.timeout(self.world.message_delay(agent.name, peer.name))
        if not peer.online:
            return None  # no answer from a peer that left
        kind = peer.behaviour_name
        told = self._mean(peer, kind)
        yield env.timeout(self.world.message_delay(peer.name, agent.name))
        own = self._mean(agent, agent.behaviour_name)
        if told is None or own is None or kind == agent.behaviour_name or not agent.online:
            return None
        p = fermi(spec.beta, told - own)
        if u < p:
            self.switch(agent, kind, "imitation", own, told, target=peer.name, p=p)
        return None

    def _best_response(
        self, agent: Participant, spec: RoleAdaptation, rng: np.random.Generator
    ) -> None:
        means = [self._mean(agent, k) for k in spec.strategies]
        values = [spec.optimistic_ether if m is None else m for m in means]
        if spec.choice == "epsilon_greedy":
            u = float(rng.random())
            pick = int(rng.integers(len(values)))
            if u >= spec.explore:
                pick = int(np.argmax(values))  # ties: the first in the set
        else:
            pick = softmax_pick(values, spec.temperature_ether, float(rng.random()))
        kind = spec.strategies[pick]
        current = agent.behaviour_name
        if kind != current:
            self.switch(agent, kind, "best_response", self._mean(agent, current), values[pick])

    # ---------------------------------------------------------------- the replicator

    def _role_clock(self, role: str, spec: RoleAdaptation) -> Process:
        rng = self.world.rng("adapt", "clock", role)
        mean_s = 3600.0 / spec.rate_per_hour
        while True:
            yield self.world.env.timeout(float(rng.exponential(mean_s)))
            self.replicate(role, spec)

    def _replicate_later(self, role: str, spec: RoleAdaptation, task: int) -> Process:
        yield self.world.env.timeout(0)
        if any(p.profits is not None and task in p.profits._open for p in self.agents(role)):
            self.replicate(role, spec)

    def replicate(self, role: str, spec: RoleAdaptation) -> None:
        """One step of the discrete replicator dynamics on the role's shares."""
        agents = [p for p in self.agents(role) if not p.departed]
        if not agents:
            return
        for p in agents:
            if p.profits is not None:
                p.profits.close(self._settled)
        kinds = list(spec.strategies)
        holders = {k: [p for p in agents if p.behaviour_name == k] for k in kinds}
        shares = np.array([len(holders[k]) / len(agents) for k in kinds])
        profit: list[float | None] = []
        for k in kinds:
            known = [m for p in holders[k] if (m := self._mean(p, k)) is not None]
            profit.append(float(np.mean(known)) if known else None)
        new = replicator_step(shares, profit, spec.beta, spec.mutation)
        target = rounded_counts(new, len(agents))
        rng = self._role_stream(role)
        surplus: list[Participant] = []
        for k, want in zip(kinds, target, strict=True):
            have = holders[k]
            if len(have) > want:
                order = rng.permutation(len(have))
                surplus += [have[i] for i in sorted(order[: len(have) - want])]
        for k, want, pi in zip(kinds, target, profit, strict=True):
            for _ in range(want - len(holders[k])):
                agent = surplus.pop(0)
                old = self._mean(agent, agent.behaviour_name)
                self.switch(agent, k, "replicator", old, pi)

    def _role_stream(self, role: str) -> np.random.Generator:
        key = f"role:{role}"
        if key not in self._streams:
            self._streams[key] = self.world.rng("adapt", role)
        return self._streams[key]

    # ---------------------------------------------------------------- switching

    def switch(
        self,
        agent: Participant,
        kind: str,
        rule: str,
        own: float | None,
        other: float | None,
        *,
        target: str | None = None,
        p: float | None = None,
    ) -> None:
        """``agent`` plays ``kind`` from now on (tasks already taken keep their strategy)."""
        old = agent.behaviour_name
        if kind == old:
            return
        agent.behaviour = self.model.strategy_of(str(agent.role), kind)
        agent.behaviour_name = kind
        self.world.directory.set_behaviour(agent.name, kind)
        detail = f"{old} -> {kind}; {rule}; own {_ether(own)} vs {_ether(other)} ether/task"
        if p is not None:
            detail += f"; p={p:.4f}"
        agent.record(
            Kind.STRATEGY_REVISED,
            target=target,
            value=own,
            detail=detail,
        )


def fermi(beta: float, gain: float) -> float:
    """1 / (1 + exp(−β · gain)), safe for any β."""
    x = max(-700.0, min(700.0, beta * gain))
    return 1.0 / (1.0 + math.exp(-x))


def softmax_pick(values: Sequence[float], temperature: float, u: float) -> int:
    """The index a softmax over ``values`` at ``temperature`` picks with the uniform ``u``."""
    v = np.asarray(values, dtype=float) / temperature
    w = np.exp(v - v.max())
    cumulative = np.cumsum(w / w.sum())
    index = int(np.searchsorted(cumulative, u, side="right"))
    return min(index, len(values) - 1)


def replicator_step(
    shares: np.ndarray, profit: Sequence[float | None], beta: float, mutation: float
) -> np.ndarray:
    """Shares after one discrete replicator step with mutation.

    x'_s = x_s · max(0, 1 + β (π_s − π̄)), π̄ the share-weighted mean over kinds with a known
    profit (a kind nobody measured keeps its share), normalised, then (1 − ε) x' + ε/n.
    """
    known = [i for i, p in enumerate(profit) if p is not None and shares[i] > 0]
    new = shares.astype(float).copy()
    if known:
        weight = shares[known].sum()
        mean = sum(shares[i] * float(profit[i]) for i in known) / weight  # type: ignore[arg-type]
        for i in known:
            new[i] = shares[i] * max(0.0, 1.0 + beta * (float(profit[i]) - mean))  # type: ignore[arg-type]
    total = new.sum()
    new = shares.astype(float) if total <= 0 else new / total
    return (1.0 - mutation) * new + mutation / len(new)


def rounded_counts(shares: np.ndarray, n: int) -> list[int]:
    """``n`` agents split by ``shares`` (largest remainder; ties to the earlier kind)."""
    exact = shares * n
    floors = np.floor(exact).astype(int)
    left = n - int(floors.sum())
    order = sorted(range(len(shares)), key=lambda i: (-(exact[i] - floors[i]), i))
    for i in order[:left]:
        floors[i] += 1
    return [int(v) for v in floors]


def _ether(value: float | None) -> str:
    return "unknown" if value is None else f"{value:.6f}"
