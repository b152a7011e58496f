"""What every participant shares: a Mesa agent with an account, a speed and SimPy processes.

A participant acts only through the world (``sim.world.World``) and the market bindings.
Its work happens in SimPy processes that the model tracks, so the run knows when all work
is done. Behaviour (honest or not) is a strategy object the role's process consults.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import TYPE_CHECKING, Any

import mesa
import simpy

from sim.chain import Account, Receipt
from sim.recorder import Kind
from sim.types import Role, Wei

if TYPE_CHECKING:
    from agents.model import MarketModel
    from sim.world import World

Process = Generator[simpy.Event, Any, Any]


class Participant(mesa.Agent):  # type: ignore[misc]
    """A market participant (one role, one account)."""

    role: Role

    def __init__(
        self,
        model: MarketModel,
        name: str,
        account: Account,
        behaviour_name: str,
        speed: float,
        bandwidth_mbps: float,
    ):
        super().__init__(model)
        self.name = name
        self.account = account
        self.behaviour_name = behaviour_name
        self.speed = speed
        self.online = True
        self.compute_seconds = 0.0
        self.market_model = model
        model.world.network.set_bandwidth(name, bandwidth_mbps)
        model.world.recorder.register_agent(name, str(self.role), behaviour_name)

    @property
    def world(self) -> World:
        return self.market_model.world

    @property
    def env(self) -> simpy.Environment:
        return self.market_model.world.env

    def spawn(self, process: Process) -> simpy.Process:
        """Start a process whose end the run waits for."""
        return self.market_model.track(self.env.process(process))

    def record(self, kind: Kind | str, **values: Any) -> None:
        self.world.recorder.record(kind, self.name, **values)

    def transact(self, send: Callable[[], int], task: int | None = None) -> Process:
        """Send a transaction and wait for its receipt (recorded with the task id)."""
        receipt: Receipt = yield from self.world.transact(self.name, send, task=task)
        return receipt

    def compute(self, reference_seconds: float) -> simpy.Event:
        """Spend compute time: ``reference_seconds`` on the reference machine, over speed."""
        seconds = reference_seconds / self.speed
        self.compute_seconds += seconds
        return self.env.timeout(seconds)

    def balance(self) -> Wei:
        return self.world.chain.balance(self.account.address)

    def withdraw_if_owed(self, task: int | None = None) -> Process:
        """Withdraw whatever the market credits this account (pull payment)."""
        owed = self.world.market.credit(self.account.address)
        if owed == 0:
            return None
        receipt = yield from self.transact(lambda: self.world.market.withdraw(self.account), task)
        if receipt.ok:
            self.record(Kind.WITHDRAWN, task=task, wei=owed, tx_hash=receipt.tx_hash)
        return receipt
