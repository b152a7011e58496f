"""A complete task on the market, driven straight through the bindings (no agents).

Used by ``baasim smoke`` (a chain smoke run), by the chain benchmark and by tests: create a
task, N submissions, verifier registration, committee draw, commits, reveals, finalize and
every withdrawal, then check that no wei was created or lost.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from contracts.chain import Account, Block, Chain, ChainConfig, Engine, Receipt
from contracts.errors import InvariantViolation
from contracts.units import ETHER, Cid, TaskId, Wei

from .settlement import Aggregation
from .taskmarket import TaskMarket, TaskParams, commitment, new_salt


@dataclass(frozen=True)
class WorkloadShape:
    """How big the task is."""

    contributors: int = 5
    verifiers: int = 7
    committee: int = 5
    commit_reveal: bool = True
    reward: Wei = Wei(10 * ETHER)
    stake: Wei = Wei(ETHER)
    block_interval: int = 12
    aggregation: Aggregation = Aggregation.MAJORITY
    """``CLAIM``: claim settlement; every positive submission's pay is claimed after
    finalize (``claim_pay``), in blocks of at most ``claims_per_block``."""
    claims_per_block: int = 200


@dataclass
class WorkloadResult:
    """What happened: receipts per call, and the figures a smoke run prints."""

    task_id: TaskId
    receipts: list[Receipt] = field(default_factory=list)
    blocks: int = 0
    seconds: float = 0.0
    accepted: bool = False

    @property
    def transactions(self) -> int:
        return sum(1 for r in self.receipts if r.included)

    @property
    def tx_per_second(self) -> float:
        return self.transactions / self.seconds if self.seconds else float("nan")

    def gas_by_call(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for r in self.receipts:
            key = (r.label or "?").split(".")[-1]
            out[key] = out.get(key, 0) + r.gas_used
        return out


class _Driver:
    """Queues calls, seals blocks one interval apart, collects receipts."""

    def __init__(self, chain: Chain, interval: int, result: WorkloadResult):
        self.chain = chain
        self.interval = interval
        self.result = result

    def seal(self, at: int | None = None) -> None:
        """Seal at ``at`` (default: one interval on), then until the pool is empty."""
        ts = at if at is not None else self.chain.head_timestamp + self.interval
        self._record(self.chain.seal(max(ts, self.chain.head_timestamp + 1)))
        while self.chain.pending_count:
            self._record(self.chain.seal(self.chain.head_timestamp + self.interval))

    def _record(self, block: Block) -> None:
        self.result.blocks += 1
        for r in block.receipts:
            r.raise_for_status()
            self.result.receipts.append(r)


def run_workload(
    chain: Chain, market: TaskMarket, accounts: list[Account], shape: WorkloadShape, seed: int = 0
) -> WorkloadResult:
    """Run one whole task on ``market``; ``accounts`` needs 1 + contributors + verifiers."""
    need = 1 + shape.contributors + shape.verifiers
    if len(accounts) < need:
        raise ValueError(f"run_workload: needs {need} accounts, got {len(accounts)}")
    rng = np.random.default_rng(seed)
    initiator = accounts[0]
    contributors = accounts[1 : 1 + shape.contributors]
    verifiers = accounts[1 + shape.contributors : need]
    now = chain.head_timestamp
    iv = shape.block_interval
    # a big task's submissions and reports span several blocks: longer phases
    phase = iv * (3 + shape.contributors // 20)
    params = TaskParams(
        mafr_bps=8000,
        committee_size=shape.committee,
        verifier_share_bps=2000,
        submission_deadline=now + phase,
        commit_deadline=now + 2 * phase,
        reveal_deadline=now + 3 * phase,
        verifier_stake=shape.stake,
        slash_bps=5000,
        commit_reveal=shape.commit_reveal,
        aggregation=shape.aggregation,
    )
    result = WorkloadResult(task_id=TaskId(market.next_task_id()))
    drive = _Driver(chain, iv, result)
    start = time.perf_counter()
    market.create_task(initiator, Cid("bafkreiworkloadspec"), params, shape.reward)
    drive.seal()
    task = result.task_id
    for i, c in enumerate(contributors):
        market.submit_model(c, task, Cid(f"bafkreiworkloadmodel{i:04d}"))
    for v in verifiers:
        market.register_verifier(v, task, shape.stake)
    drive.seal()
    market.draw_committee(initiator, task)
    drive.seal(params.submission_deadline)
    members = set(market.committee(task))
    claim = shape.aggregation == Aggregation.CLAIM
    scores = [int(s) for s in rng.integers(1_000, 100_000, size=shape.contributors)]
    salts = {}
    for v in verifiers:
        if v.address not in members:
            continue
        if shape.commit_reveal:
            salts[v.address] = new_salt(rng)
            market.commit(v, task, commitment(task, v.address, 900_000, scores, salts[v.address]))
        else:
            market.report(v, task, 900_000, scores, claim)
    drive.seal()
    if shape.commit_reveal:
        for v in verifiers:
            if v.address in salts:
                market.reveal(v, task, 900_000, scores, salts[v.address], claim)
        drive.seal(params.commit_deadline)
    market.finalize(initiator, task)
    drive.seal(params.reveal_deadline)
    _claim_every_pay(market, drive, initiator, task, shape)
    for a in [initiator, *contributors, *verifiers]:
        if market.credit(a.address) > 0:
            market.withdraw(a)
    drive.seal()
    result.seconds = time.perf_counter() - start
    result.accepted = market.get_task(task).accepted
    return result


def _claim_every_pay(
    market: TaskMarket, drive: _Driver, sender: Account, task: TaskId, shape: WorkloadShape
) -> None:
    """Claim settlement: ``sender`` claims every submission's pay, a block at a time."""
    if shape.aggregation != Aggregation.CLAIM:
        return
    for start in range(0, shape.contributors, shape.claims_per_block):
        for i in range(start, min(start + shape.claims_per_block, shape.contributors)):
            market.claim_pay(sender, task, i)
        drive.seal()


def check_conservation(chain: Chain, accounts: list[Account], market: TaskMarket) -> None:
    """Ether is neither created nor lost: balances + burned fees = genesis supply."""
    held: int = sum(chain.balance(a.address) for a in accounts)
    held += chain.balance(chain.faucet.address) + chain.balance(chain.coinbase)
    held += chain.balance(market.address)
    if held + chain.burned_fees != chain.genesis_supply:
        raise InvariantViolation(
            f"ether not conserved: held {held} + burned {chain.burned_fees} "
            f"!= genesis {chain.genesis_supply}"
        )


def fresh_market(
    shape: WorkloadShape, seed: int, engine: Engine = "py-evm"
) -> tuple[Chain, list[Account], TaskMarket]:
    """A new chain (on ``engine``) with an account per participant of ``shape`` and a
    deployed market."""
    n = 1 + shape.contributors + shape.verifiers
    config = ChainConfig(engine=engine)
    chain = Chain(config, np.random.default_rng(seed), [Wei(100 * ETHER)] * n)
    accounts = chain.genesis_accounts
    return chain, accounts, TaskMarket.deploy_now(chain, accounts[0])


def smoke(seed: int = 0, shape: WorkloadShape | None = None) -> WorkloadResult:
    """A fresh chain, a deployed market, one whole task; raises if anything is off."""
    shape = shape or WorkloadShape()
    chain, accounts, market = fresh_market(shape, seed)
    result = run_workload(chain, market, accounts, shape, seed)
    check_conservation(chain, accounts, market)
    if market.total_credit() != 0 or chain.balance(market.address) != 0:
        raise InvariantViolation("smoke: the market still holds ether after every withdrawal")
    return result
