"""The world agents live in: clock, chain, market, network, storage, learning, recorder.

``build_world(scenario, seed, run_dir)`` assembles one run's world from independent RNG
streams of one seed. The SimPy environment is the only clock (seconds). A block producer
process seals a block every ``chain.block_interval_s`` at timestamp ``epoch + env.now``;
transactions wait in the pool until then and the sending process resumes when its receipt
exists (plus the RPC latency back to the agent).

What participants see is ``AgentWorld``, a narrow surface: the scenario, the clock
(``env``, ``timestamp``, ``until``), the market binding (``market``), the chain's events as
their node reports them (``watcher``, ``notice``), the learning layer (``learning``), and the
methods below for transactions, storage, messages, their random streams, the agent directory
and the event table. ``Participant.world`` is typed as ``AgentWorld``, so mypy refuses an
agent that reaches for the chain, the store, the network or the recorder directly. The
population that builds the market (``agents.model``, ``agents.population``) holds the whole
``World``: it opens accounts, samples model-level series and starts churn.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import simpy

from contracts.chain import Account, Block, Chain, ChainConfig, Receipt, derive_account
from contracts.taskmarket import TaskMarket
from contracts.units import Address, Cid, Wei
from sim.directory import Directory
from sim.errors import StorageError
from sim.learning_service import LearningService
from sim.network import CHAIN_ENDPOINT, STORAGE_ENDPOINT, LinkClass, Network
from sim.recorder import Kind, Recorder
from sim.rng import RngStreams
from sim.scenario import Scenario
from sim.sealing import open_sealed
from sim.storage import Store, open_store
from sim.watcher import ChainWatcher

TRANSFER_GAS = 21_000
"""Gas of a plain ether transfer (what it costs exactly: an account can be emptied)."""
EPOCH = 1_700_000_000
"""Block timestamp of simulated time 0 (the block that deploys the market)."""

Process = Generator[simpy.Event, Any, Any]


@dataclass(frozen=True)
class Message:
    """An off-chain message between agents (model links, verification data)."""

    kind: str
    sender: str
    task: int | None
    payload: Any
    size: int


@dataclass
class World:
    """Everything one run shares; built by ``build_world``."""

    scenario: Scenario
    seed: int
    run_id: str
    run_dir: Path
    env: simpy.Environment
    streams: RngStreams
    chain: Chain
    market: TaskMarket
    deployer: Account
    agent_accounts: list[Account]
    network: Network
    store: Store
    learning: LearningService
    recorder: Recorder
    watcher: ChainWatcher
    directory: Directory
    """The run's one registry of agents (filled as participants join the market)."""
    _receipt_waiters: dict[int, simpy.Event] = field(default_factory=dict)
    _mailboxes: dict[str, simpy.FilterStore] = field(default_factory=dict)
    _tx_arrived: simpy.Event = field(init=False)
    _funding: dict[Address, simpy.Event] = field(default_factory=dict)
    _model_keys: dict[Cid, tuple[int, bytes]] = field(default_factory=dict)
    blocks: int = 0

    # ---------------------------------------------------------------- time

    def __post_init__(self) -> None:
        self._tx_arrived = self.env.event()

    def timestamp(self) -> int:
        """The block timestamp that corresponds to now."""
        return EPOCH + int(self.env.now)

    def sim_time(self, timestamp: int) -> float:
        return float(timestamp - EPOCH)

    def until(self, timestamp: int) -> simpy.Event:
        """A timeout that fires once the chain time reaches ``timestamp``."""
        return self.env.timeout(max(0.0, self.sim_time(timestamp) - self.env.now))

    def next_block_time(self) -> float:
        """Simulated time of the next block."""
        interval = self.scenario.chain.block_interval_s
        return (int(self.env.now) // interval + 1) * interval

    # ---------------------------------------------------------------- chain

    def block_producer(self) -> Process:
        """Seal a block at every block-interval boundary at which transactions are pending.

        Empty blocks are not materialised: nothing in the market reads block numbers, only
        timestamps, so skipping them changes no outcome and saves the host the work.
        """
        while True:
            if not self.chain.pending_count:
                self._tx_arrived = self.env.event()
                yield self._tx_arrived
            yield self.env.timeout(self.next_block_time() - self.env.now)
            timestamp = self.timestamp()
            block = self.chain.seal(timestamp, self.prevrandao(timestamp))
            self.blocks += 1
            self._on_block(block)

    def prevrandao(self, timestamp: int) -> bytes:
        """The block randomness at ``timestamp``: keyed by the time, not drawn in sequence.

        Common random numbers: a run in which one agent sends fewer transactions seals other
        blocks, yet every block sealed at the same time sees the same randomness (committee
        draws read it).
        """
        state = self.streams.sequence("prevrandao", timestamp).generate_state(8, np.uint32)
        return state.tobytes()

    def _on_block(self, block: Block) -> None:
        self.watcher.on_block(block)
        for r in block.receipts:
            waiter = self._receipt_waiters.pop(r.ticket, None)
            if waiter is not None:
                waiter.succeed(r)

    def _queued(self, ticket: int) -> simpy.Event:
        """The event that fires with ``ticket``'s receipt; wakes the block producer."""
        if not self._tx_arrived.triggered:
            self._tx_arrived.succeed()
        waiter = self.env.event()
        self._receipt_waiters[ticket] = waiter
        return waiter

    def open_account(self) -> Account:
        """A new account the faucet funds with the genesis balance (in the next block)."""
        account, ticket = self.chain.new_account(self.scenario.chain.genesis_balance)
        self._funding[account.address] = self._queued(ticket)
        return account

    def open_sybil(self, owner: str, rng: np.random.Generator) -> Account:
        """A further account of participant ``owner`` with a key from ``rng`` and no ether
        (its owner funds it by ``transfer``); the directory books it to ``owner``."""
        account = derive_account(rng)
        self.directory.add_alias(owner, account.address)
        return account

    def adopt(self, owner: str, address: Address) -> None:
        """Book ``address`` (e.g. a contract ``owner`` deployed) to ``owner``, like a Sybil:
        counted in its balance and in the ether check, its rows labelled with ``owner``."""
        self.directory.add_alias(owner, address)

    def transfer(
        self, agent: str, sender: Account, to: Address, amount: Wei, task: int | None = None
    ) -> Process:
        """Send ``amount`` wei from ``sender`` (an account of ``agent``) to ``to``; the
        receipt."""
        chain = self.chain
        receipt: Receipt = yield from self.transact(
            agent,
            lambda: chain.send(sender, to, value=amount, gas=TRANSFER_GAS, label="transfer"),
            task=task,
        )
        return receipt

    def await_funding(self, account: Account) -> Process:
        """Wait until ``account``'s funding transaction is in a block (at once if it is)."""
        waiter = self._funding.get(account.address)
        if waiter is not None and not waiter.processed:
            yield waiter
        return None

    def transact(self, agent: str, send: Callable[[], int], task: int | None = None) -> Process:
        """Send a transaction from ``agent`` (after RPC latency) and wait for its receipt.

        ``send`` queues the transaction and returns its ticket (a bound market call).
        Returns the receipt; a failed transaction is recorded, never raised.
        """
        yield self.env.timeout(self.network.latency(LinkClass.RPC, agent, CHAIN_ENDPOINT))
        receipt: Receipt = yield self._queued(send())
        yield self.env.timeout(self.network.latency(LinkClass.RPC, CHAIN_ENDPOINT, agent))
        self.recorder.record(
            Kind.TX,
            agent,
            ok=receipt.ok,
            gas=receipt.gas_used,
            fee_wei=receipt.fee,
            wei=receipt.value,
            tx_hash=receipt.tx_hash,
            detail=_tx_detail(receipt),
            task=task,
        )
        return receipt

    def notice(self, agent: str) -> simpy.Event:
        """The delay for a chain event to reach ``agent`` through its node."""
        return self.env.timeout(self.network.latency(LinkClass.RPC, CHAIN_ENDPOINT, agent))

    # ---------------------------------------------------------------- storage

    def upload(self, agent: str, data: bytes, task: int | None = None) -> Process:
        """Store ``data`` from ``agent``; takes transfer time; returns its CID, or None after
        recording the failure (the store's own retries spent)."""
        yield self.env.timeout(
            self.network.transfer_time(LinkClass.STORAGE, agent, STORAGE_ENDPOINT, len(data))
        )
        try:
            cid = self.store.put(data)
            self.store.pin(cid)
        except StorageError as err:
            self.recorder.record(
                Kind.FAILED, agent, task=task, bytes=len(data), detail=f"upload failed: {err}"
            )
            return None
        return cid

    def download(self, agent: str, cid: Cid) -> Process:
        """Fetch ``cid`` to ``agent``; returns the bytes, or None after recording the failure."""
        try:
            data = self.store.get(cid)
        except StorageError as err:
            yield self.env.timeout(self.network.latency(LinkClass.STORAGE, STORAGE_ENDPOINT, agent))
            self.recorder.record(Kind.FAILED, agent, cid=cid, detail=f"fetch failed: {err}")
            return None
        yield self.env.timeout(
            self.network.transfer_time(LinkClass.STORAGE, STORAGE_ENDPOINT, agent, len(data))
        )
        return data

    # ---------------------------------------------------------------- messages

    def mailbox(self, agent: str) -> simpy.FilterStore:
        if agent not in self._mailboxes:
            self._mailboxes[agent] = simpy.FilterStore(self.env)
        return self._mailboxes[agent]

    def send_message(self, src: str, dst: str, message: Message) -> None:
        """Deliver ``message`` to ``dst``'s mailbox after latency and transfer time."""
        delay = self.network.transfer_time(LinkClass.MESSAGE, src, dst, message.size)

        def deliver() -> Process:
            yield self.env.timeout(delay)
            yield self.mailbox(dst).put(message)

        self.env.process(deliver())

    def message_delay(self, src: str, dst: str, size: int = 0) -> float:
        """How long a message of ``size`` bytes from ``src`` takes to reach ``dst``."""
        return self.network.transfer_time(LinkClass.MESSAGE, src, dst, size)

    # ---------------------------------------------------------------- agents' helpers

    def record(self, kind: Kind | str, agent: str | None, **values: Any) -> None:
        """Add a row to the event table (role and behaviour come from the directory)."""
        self.recorder.record(kind, agent, **values)

    def rng(self, *path: str | int) -> np.random.Generator:
        """The run's random stream at ``path`` (``sim.rng.RngStreams.numpy``)."""
        return self.streams.numpy(*path)

    def integer_seed(self, *path: str | int) -> int:
        """A 63-bit seed from the run's stream at ``path`` (training, evaluation seeds)."""
        return self.streams.integer_seed(*path)

    def connect(self, agent: str, bandwidth_mbps: float) -> None:
        """Attach ``agent`` to the network with its access bandwidth."""
        self.network.set_bandwidth(agent, bandwidth_mbps)

    def balance_of(self, address: Address) -> Wei:
        return self.chain.balance(address)

    def name_of(self, address: Address) -> str | None:
        """The participant's name at ``address`` (None for an outsider); for a Sybil account
        or a contract booked to a participant (``open_sybil``, ``adopt``), its owner: who
        acts for it and receives what is sent to it."""
        return self.directory.name_of(address)

    def address_of(self, name: str) -> Address | None:
        return self.directory.address_of(name)

    def escrow_key(self, cid: Cid, task: int, key: bytes) -> None:
        """Tell the run (never the agents) the key of the sealed model ``cid``, so that
        ground truth (``stored_files``) reads the plaintext."""
        self._model_keys[cid] = (task, key)

    def stored_files(self, cids: Sequence[Cid]) -> list[bytes | None]:
        """The files as stored, read at no simulated cost: for ground truth only (a sealed
        model is opened with the key its contributor escrowed)."""
        out: list[bytes | None] = []
        for c in cids:
            data = self.store.get(c) if self.store.has(c) else None
            if data is not None and c in self._model_keys:
                task, key = self._model_keys[c]
                data = open_sealed(data, key, task)
            out.append(data)
        return out


class AgentWorld(Protocol):
    """The part of the ``World`` a participant uses (see the module docstring)."""

    # The scenario, and the clock.
    scenario: Scenario
    env: simpy.Environment

    def timestamp(self) -> int: ...
    def until(self, timestamp: int) -> simpy.Event: ...

    # The chain: the market binding, its events as the agent's node reports them, and
    # transactions (the account's funding, sending, balances).
    market: TaskMarket
    watcher: ChainWatcher

    def notice(self, agent: str) -> simpy.Event: ...
    def await_funding(self, account: Account) -> Process: ...
    def open_sybil(self, owner: str, rng: np.random.Generator) -> Account: ...
    def adopt(self, owner: str, address: Address) -> None: ...
    def transfer(
        self, agent: str, sender: Account, to: Address, amount: Wei, task: int | None = None
    ) -> Process: ...
    def transact(self, agent: str, send: Callable[[], int], task: int | None = None) -> Process: ...
    def balance_of(self, address: Address) -> Wei: ...

    # Off-chain: storage, messages, the network link, and ground-truth reads of the store.
    def upload(self, agent: str, data: bytes, task: int | None = None) -> Process: ...
    def download(self, agent: str, cid: Cid) -> Process: ...
    def mailbox(self, agent: str) -> simpy.FilterStore: ...
    def send_message(self, src: str, dst: str, message: Message) -> None: ...
    def message_delay(self, src: str, dst: str, size: int = 0) -> float: ...
    def connect(self, agent: str, bandwidth_mbps: float) -> None: ...
    def stored_files(self, cids: Sequence[Cid]) -> list[bytes | None]: ...
    def escrow_key(self, cid: Cid, task: int, key: bytes) -> None: ...

    # Training and evaluation.
    learning: LearningService

    # Who is who, the agent's random streams, and the event table.
    def name_of(self, address: Address) -> str | None: ...
    def address_of(self, name: str) -> Address | None: ...
    def rng(self, *path: str | int) -> np.random.Generator: ...
    def integer_seed(self, *path: str | int) -> int: ...
    def record(self, kind: Kind | str, agent: str | None, **values: Any) -> None: ...


def _tx_detail(receipt: Receipt) -> str:
    call = (receipt.label or "").removeprefix("TaskMarket.")
    return call if receipt.ok else f"{call}: {receipt.revert_reason}"


def run_id_for(scenario: Scenario, seed: int) -> str:
    """A run's id: the scenario hash and the seed."""
    return f"{scenario.name}-{scenario.digest[:10]}-s{seed}"


def build_world(scenario: Scenario, seed: int, run_dir: Path) -> World:
    """Assemble the world of one run (the market is deployed in the block at time 0)."""
    streams = RngStreams(seed)
    env = simpy.Environment()
    chain_cfg = scenario.chain
    pop = scenario.population
    n_agents = pop.initiators + pop.contributors + pop.verifiers
    chain = Chain(
        ChainConfig(
            chain_id=chain_cfg.chain_id,
            gas_price=chain_cfg.gas_price,
            block_gas_limit=chain_cfg.block_gas_limit,
            genesis_timestamp=EPOCH - 1,
            engine=chain_cfg.engine,
        ),
        streams.numpy("chain"),
        [chain_cfg.genesis_balance] * (n_agents + 1),
    )
    deployer, *agent_accounts = chain.genesis_accounts
    market = TaskMarket.deploy_now(chain, deployer, EPOCH)
    net = scenario.network
    network = Network(
        {
            LinkClass.MESSAGE: net.message_latency_s,
            LinkClass.RPC: net.rpc_latency_s,
            LinkClass.STORAGE: net.storage_latency_s,
        },
        net.storage_bandwidth_mbps,
        net.jitter_sigma,
        streams,
    )
    run_id = run_id_for(scenario, seed)
    directory = Directory()
    world = World(
        scenario=scenario,
        seed=seed,
        run_id=run_id,
        run_dir=run_dir,
        env=env,
        streams=streams,
        chain=chain,
        market=market,
        deployer=deployer,
        agent_accounts=agent_accounts,
        network=network,
        store=open_store(scenario.storage, run_dir),
        learning=LearningService(scenario, streams),
        recorder=Recorder(
            run_id, seed, scenario.digest, lambda: env.now, lambda: chain.head_number, directory
        ),
        watcher=ChainWatcher(env),
        directory=directory,
    )
    env.process(world.block_producer())
    return world
