"""What every participant shares: a Mesa agent with an account, a speed and SimPy processes.

A participant acts only through its narrow view of the world (``sim.world.AgentWorld``) and
the market bindings; it is registered in the world's directory when it joins the market. Its
work happens in SimPy processes the model tracks, so the run knows when all work is
done. Leaving (churn) interrupts every process of the agent: what it had not finished is
abandoned. Computing spends simulated time (reference seconds ÷ speed) and is recorded with
its cost at the scenario's compute price. Behaviour (honest or not) is a strategy object the
role's process consults.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Sequence
from typing import TYPE_CHECKING, Any

import mesa
import numpy as np
import simpy

from contracts.chain import Account, Receipt
from contracts.taskmarket import MarketEvent, TaskCancelled, TaskFinalized
from contracts.units import ETHER, Cid, Wei
from sim.recorder import Kind
from sim.sealing import SealError, open_sealed
from sim.types import Role

if TYPE_CHECKING:
    from agents.adaptation import ProfitBook
    from agents.choice import Estimate
    from agents.model import MarketModel
    from sim.watcher import TaskEntry
    from sim.world import AgentWorld

Process = Generator[simpy.Event, Any, Any]

MODEL_KEY = "model_key"
"""Message kind of a sealed model's key (payload: (cid, key)), contributor to holder."""
KEY_WAIT_S = 120
"""The longest an agent waits for a sealed model's key it is owed (a contributor that left
never sends it)."""


class Participant(mesa.Agent):  # type: ignore[misc]
    """A market participant (one role, one account)."""

    role: Role
    behaviour: Any
    """The strategy this participant's process consults (typed per role in each subclass)."""

    def __init__(
        self,
        model: MarketModel,
        index: int,
        account: Account,
        behaviour: Any,
        speed: float,
        bandwidth_mbps: float,
    ):
        super().__init__(model)
        self.index = index
        self.name = f"{self.role}-{index}"
        self.account = account
        self.behaviour = behaviour
        self.behaviour_name: str = behaviour.name
        self._stream: np.random.Generator | None = None
        self.speed = speed
        self.market_model = model
        self._online = False
        self.online = True
        self.departed = False
        self.compute_seconds = 0.0
        self._work: dict[simpy.Process, None] = {}  # insertion order: deterministic interrupts
        self._tasks: set[int] = set()
        self._bound: dict[int, Any] = {}
        self.profits: ProfitBook | None = None
        """What this agent knows of its own profit per task; kept only when its role adapts
        (``agents.adaptation``)."""
        self.world.connect(self.name, bandwidth_mbps)

    @property
    def stream(self) -> np.random.Generator:
        """This participant's own random stream (choices, made-up numbers, salts).

        Made on first use: a stream is a function of the run's seed and its path alone
        (``sim.rng``), so when it is made changes no draw, and an agent that never draws
        (most of a large, idle population) never holds one (~0.9 kB).
        """
        if self._stream is None:
            self._stream = self.world.rng(str(self.role), self.index)
        return self._stream

    @property
    def online(self) -> bool:
        """Whether this participant is in the market now (churn takes it away and back)."""
        return self._online

    @online.setter
    def online(self, value: bool) -> None:
        if value != self._online:
            self._online = value
            self.market_model.set_online(str(self.role), value)

    @property
    def world(self) -> AgentWorld:
        return self.market_model.world

    @property
    def env(self) -> simpy.Environment:
        return self.world.env

    # ---------------------------------------------------------------- work

    def spawn(self, process: Process) -> simpy.Process:
        """Start a process whose end the run waits for; leaving interrupts it."""
        proc = self.market_model.track(self.env.process(self._guarded(process)))
        self._work[proc] = None
        proc.callbacks.append(lambda _e: self._work.pop(proc, None))
        if self.profits is not None:
            proc.callbacks.append(lambda _e: self.market_model.work_ended(self))
        return proc

    # ---------------------------------------------------------------- strategy per task

    def bind(self, task_id: int) -> None:
        """Play ``task_id`` to its end with the strategy held now (a revision applies to the
        tasks taken after it)."""
        if task_id not in self._bound:
            self._bound[task_id] = self.behaviour
            if self.profits is not None:
                self.profits.take(task_id, self.behaviour.name)

    def strategy_for(self, task_id: int) -> Any:
        """The strategy this agent plays ``task_id`` with."""
        return self._bound.get(task_id, self.behaviour)

    def book(self, task: int | None, wei: int) -> None:
        """Count ``wei`` (negative: spent) towards this agent's profit on ``task``."""
        if self.profits is not None and task is not None:
            self.profits.add(task, wei)

    def _guarded(self, process: Process) -> Process:
        try:
            return (yield from process)
        except simpy.Interrupt as interrupt:
            process.close()
            self.record(Kind.ABANDONED, detail=str(interrupt.cause))
            return None

    def take_task(self, task: TaskEntry, work: Callable[[TaskEntry], Process]) -> bool:
        """Start ``work`` on ``task`` unless already on it, offline, or at capacity; True
        when it started."""
        tid = task.created.task_id
        limit = self.world.scenario.population.max_tasks_per_agent
        if not self.online or tid in self._tasks or (limit and len(self._tasks) >= limit):
            return False
        self._tasks.add(tid)
        self.bind(tid)
        proc = self.spawn(work(task))
        proc.callbacks.append(lambda _e: self._tasks.discard(tid))
        return True

    # ---------------------------------------------------------------- churn

    def go_offline(self) -> None:
        """Leave: stop whatever is under way (the process calling this stops by itself)."""
        if not self.online:
            return
        self.online = False
        self.record(Kind.AGENT_LEFT)
        for proc in list(self._work):
            if proc.is_alive and proc is not self.env.active_process:
                proc.interrupt("left the market")

    def leave_for_good(self) -> None:
        """Leave and never come back (a dropout)."""
        self.departed = True
        self.go_offline()

    def come_online(self) -> None:
        """Return: collect what the market owes, then look at the open tasks."""
        if self.online or self.departed:
            return
        self.env.process(self._arrive())

    def _arrive(self) -> Process:
        yield from self.world.await_funding(self.account)
        if self.online or self.departed:
            return
        self.online = True
        self.record(Kind.AGENT_JOINED)
        self.spawn(self.withdraw_if_owed())
        for task in self.world.watcher.open_tasks():
            self.on_task(task)

    def on_task(self, task: TaskEntry) -> None:
        """A task this agent learned of; roles that take tasks override it."""

    # ---------------------------------------------------------------- actions

    def record(self, kind: Kind | str, **values: Any) -> None:
        self.world.record(kind, self.name, **values)

    def decide(self, task: TaskEntry, estimate: Estimate) -> bool:
        """Take ``task`` only when ``estimate`` promises a profit; record a refusal."""
        if estimate.profit > 0:
            return True
        self.record(
            Kind.DECLINED,
            task=task.created.task_id,
            value=estimate.profit / ETHER,
            detail=estimate.describe(),
        )
        return False

    def transact(self, send: Callable[[], int], task: int | None = None) -> Process:
        """Send a transaction and wait for its receipt (recorded with the task id)."""
        receipt: Receipt = yield from self.world.transact(self.name, send, task=task)
        self.book(task, -(receipt.fee + (receipt.value if receipt.ok else 0)))
        return receipt

    def compute(self, reference_seconds: float, task: int | None = None, what: str = "") -> Process:
        """Spend compute: ``reference_seconds`` on the reference machine, divided by speed."""
        seconds = reference_seconds / self.speed
        start = self.env.now
        try:
            yield self.env.timeout(seconds)
        except simpy.Interrupt:
            self._charge(self.env.now - start, task, f"{what} (abandoned)")
            raise
        self._charge(seconds, task, what)

    def _charge(self, seconds: float, task: int | None, what: str) -> None:
        self.compute_seconds += seconds
        cost = self.world.scenario.costs.compute_cost(seconds)
        self.book(task, -cost)
        self.record(Kind.COMPUTE, task=task, value=seconds, wei=cost, detail=what or None)

    def balance(self) -> Wei:
        return self.world.balance_of(self.account.address)

    def settle(self, task: TaskEntry, *, notice_if_settled: bool = False) -> Process:
        """Wait for ``task`` to settle (finalized or cancelled), then withdraw what is owed.

        The news reaches the agent through its node (one notice delay). For a task already
        settled there is nothing to wait for; ``notice_if_settled`` still spends the notice
        delay (a contributor returning from churn looks the outcome up), which keeps the
        agent's draws from its own link's jitter stream as they have always been.
        """
        tid = task.created.task_id
        if task.open:
            yield self.world.watcher.wait_for(MarketEvent, lambda e: _settles(e, tid), task=tid)
            yield self.world.notice(self.name)
        elif notice_if_settled:
            yield self.world.notice(self.name)
        if self.online:
            yield from self.claim_owed(task)
            yield from self.withdraw_if_owed()

    def claim_owed(self, task: TaskEntry) -> Process:
        """Before withdrawing: claim what a settled task owes but has not credited yet
        (claim settlement); nothing by default."""
        return None
        yield  # a generator that yields nothing: no simulated time, no draws

    def await_key(self, task: int, cid: Cid, deadline: int) -> Process:
        """The key of the sealed model ``cid`` from this agent's mailbox, waiting for it
        until chain time ``deadline`` (a past deadline: only a key already delivered);
        None when none came."""
        box = self.world.mailbox(self.name)
        get = box.get(lambda m: m.kind == MODEL_KEY and m.task == task and m.payload[0] == cid)
        try:
            got = yield get | self.world.until(deadline)
        finally:
            if not get.triggered:
                get.cancel()  # leaving or giving up must not swallow a later key
        if get not in got:
            return None
        key: bytes = got[get].payload[1]
        return key

    def open_models(
        self, task: TaskEntry, cids: Sequence[Cid], blobs: Sequence[bytes | None], deadline: int
    ) -> Process:
        """``blobs`` (fetched for ``cids``) as plaintext: unchanged unless the task encrypts
        its models; then each opened with its key (None where no key came by ``deadline``
        or the file does not open)."""
        if not task.template.encrypted_models:
            return list(blobs)
        tid = task.created.task_id
        out: list[bytes | None] = []
        for cid, blob in zip(cids, blobs, strict=True):
            key = None if blob is None else (yield from self.await_key(tid, cid, deadline))
            if blob is None or key is None:
                out.append(None)
                continue
            try:
                out.append(open_sealed(blob, key, tid))
            except SealError:
                out.append(None)
        return out

    def withdraw_if_owed(self, task: int | None = None, account: Account | None = None) -> Process:
        """Withdraw whatever the market credits this agent's ``account`` (default: its own;
        else a Sybil account of its own, named in the row's detail) (pull payment)."""
        account = account or self.account
        owed = self.world.market.credit(account.address)
        if owed == 0 or not self.online:
            return None
        receipt = yield from self.transact(lambda: self.world.market.withdraw(account), task)
        if receipt.ok:
            detail = None if account == self.account else f"Sybil {account.address}"
            self.record(Kind.WITHDRAWN, task=task, wei=owed, tx_hash=receipt.tx_hash, detail=detail)
        return receipt


def _settles(e: MarketEvent, task_id: int) -> bool:
    return isinstance(e, (TaskFinalized, TaskCancelled)) and e.task_id == task_id
