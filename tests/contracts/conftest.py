"""A session-wide chain with a deployed TaskMarket; each test runs inside a snapshot.

``market`` gives a ``Harness``: the chain, the bindings, named accounts and helpers that
queue calls and seal blocks at chosen timestamps, so a test reads as the sequence of
calls it makes and the receipts it expects.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from contracts.chain import Account, Block, Chain, ChainConfig, Receipt
from contracts.settlement import Aggregation, Report
from contracts.taskmarket import TaskCreated, TaskMarket, TaskParams, commitment, typed_events
from contracts.units import ETHER, Address, Cid, TaskId, Wei

N_ACCOUNTS = 270
STAKE = Wei(ETHER)
REWARD = Wei(10 * ETHER)


@dataclass
class TaskCtx:
    """One task a test set up: who submitted, who registered, who was drawn."""

    task_id: TaskId
    params: TaskParams
    reward: Wei
    contributors: list[Account] = field(default_factory=list)
    registrants: list[Account] = field(default_factory=list)
    committee: list[Account] = field(default_factory=list)
    draw_receipt: Receipt | None = None


@dataclass
class Harness:
    """Drives the market: queue a call, seal a block at a timestamp, look at the receipt."""

    chain: Chain
    market: TaskMarket
    accounts: list[Account]

    @property
    def initiator(self) -> Account:
        return self.accounts[0]

    @property
    def outsider(self) -> Account:
        return self.accounts[1]

    @property
    def others(self) -> list[Account]:
        """Every account but the initiator and the outsider."""
        return self.accounts[2:]

    def by_address(self, address: Address) -> Account:
        return next(a for a in self.accounts if a.address == address)

    # ------------------------------------------------------------ blocks

    def now(self) -> int:
        return self.chain.head_timestamp

    def seal(self, at: int | None = None, prevrandao: bytes | None = None) -> Block:
        block = self.chain.seal(self.now() + 1 if at is None else at, prevrandao)
        assert block.deferred == 0, "a test transaction did not fit its block"
        return block

    def tx(self, ticket: int, at: int | None = None, prevrandao: bytes | None = None) -> Receipt:
        """Seal one block (at ``at``) and return the receipt of ``ticket``."""
        block = self.seal(at, prevrandao)
        return next(r for r in block.receipts if r.ticket == ticket)

    def ok(self, ticket: int, at: int | None = None, prevrandao: bytes | None = None) -> Receipt:
        return self.tx(ticket, at, prevrandao).raise_for_status()

    def fails(self, ticket: int, reason: str, at: int | None = None) -> Receipt:
        r = self.tx(ticket, at)
        assert r.included and not r.ok, f"expected a revert ({reason}), got success"
        assert r.revert_reason == reason
        return r

    def all_fail(self, cases: Sequence[tuple[int, str]], at: int | None = None) -> None:
        """Seal one block; each (ticket, reason) must have reverted with that reason."""
        block = self.seal(at)
        reasons = {r.ticket: (r.included, r.ok, r.revert_reason) for r in block.receipts}
        assert [reasons[t] for t, _ in cases] == [(True, False, why) for _, why in cases]

    def seal_tickets(self, tickets: Sequence[int], at: int | None = None) -> list[Receipt]:
        """Seal one block; the receipts of ``tickets``, in order (ok or not)."""
        out = {r.ticket: r for r in self.seal(at).receipts}
        return [out[t] for t in tickets]

    def all_ok(self, tickets: Sequence[int], at: int | None = None) -> list[Receipt]:
        block = self.seal(at)
        out = {r.ticket: r for r in block.receipts}
        return [out[t].raise_for_status() for t in tickets]

    # ------------------------------------------------------------ tasks

    def params(self, **overrides: Any) -> TaskParams:
        now = self.now()
        base = TaskParams(
            mafr_bps=8000,
            committee_size=3,
            verifier_share_bps=2000,
            submission_deadline=now + 100,
            commit_deadline=now + 200,
            reveal_deadline=now + 300,
            verifier_stake=STAKE,
            slash_bps=5000,
        )
        return replace(base, **overrides)

    def create(self, reward: Wei = REWARD, **overrides: Any) -> TaskCtx:
        params = self.params(**overrides)
        r = self.ok(self.market.create_task(self.initiator, Cid("bafkreispec"), params, reward))
        (event,) = typed_events(r)
        assert isinstance(event, TaskCreated)
        return TaskCtx(TaskId(event.task_id), params, reward)

    def submit(self, ctx: TaskCtx, n: int, cids: Sequence[str] | None = None) -> None:
        """``n`` fresh contributors submit (cids default to distinct ones)."""
        start = len(ctx.contributors)
        people = self.others[start : start + n]
        cids = cids or [f"bafkreimodel{ctx.task_id}x{start + i}" for i in range(n)]
        tickets = [
            self.market.submit_model(c, ctx.task_id, Cid(cid))
            for c, cid in zip(people, cids, strict=True)
        ]
        self.all_ok(tickets)
        ctx.contributors.extend(people)

    def register(self, ctx: TaskCtx, n: int) -> None:
        """``n`` verifiers (taken from the end of the account list) register with stake."""
        have = len(ctx.registrants)
        people = list(reversed(self.others))[have : have + n]
        stake = ctx.params.verifier_stake
        tickets = [self.market.register_verifier(v, ctx.task_id, stake) for v in people]
        self.all_ok(tickets)
        ctx.registrants.extend(people)

    def draw(self, ctx: TaskCtx, at: int | None = None, prevrandao: bytes | None = None) -> None:
        at = ctx.params.submission_deadline if at is None else at
        r = self.ok(self.market.draw_committee(self.outsider, ctx.task_id), at, prevrandao)
        ctx.draw_receipt = r
        (drawn,) = self.events(r, "CommitteeDrawn")
        ctx.committee = [self.by_address(a) for a in drawn.members]

    def task(
        self, n_sub: int = 3, n_reg: int = 5, reward: Wei = REWARD, **overrides: Any
    ) -> TaskCtx:
        """A task with submissions and registrants whose committee is drawn."""
        ctx = self.create(reward, **overrides)
        self.submit(ctx, n_sub)
        self.register(ctx, n_reg)
        self.draw(ctx)
        return ctx

    def report(self, ctx: TaskCtx, reports: dict[Address, Report]) -> None:
        """Every given member reports (plain) or commits and reveals (commit-reveal)."""
        if not reports:
            return
        p = ctx.params
        claim = p.aggregation == Aggregation.CLAIM  # claim-settled: through report_claim
        members = [self.by_address(a) for a in reports]
        if not p.commit_reveal:
            tickets = [
                self.market.report(
                    v,
                    ctx.task_id,
                    reports[v.address].accuracy_ppm,
                    list(reports[v.address].scores_ppm),
                    claim,
                )
                for v in members
            ]
            self.all_ok(tickets)
            return
        salt = {v.address: bytes([i + 1]) * 32 for i, v in enumerate(members)}
        tickets = []
        for v in members:
            rep = reports[v.address]
            digest = commitment(
                ctx.task_id, v.address, rep.accuracy_ppm, rep.scores_ppm, salt[v.address]
            )
            tickets.append(self.market.commit(v, ctx.task_id, digest))
        self.all_ok(tickets)
        tickets = [
            self.market.reveal(
                v,
                ctx.task_id,
                reports[v.address].accuracy_ppm,
                list(reports[v.address].scores_ppm),
                salt[v.address],
                claim,
            )
            for v in members
        ]
        self.all_ok(tickets, at=max(self.now() + 1, p.commit_deadline))

    def finalize(self, ctx: TaskCtx, at: int | None = None) -> Receipt:
        at = max(self.now() + 1, ctx.params.reveal_deadline) if at is None else at
        return self.ok(self.market.finalize(self.outsider, ctx.task_id), at)

    def credits(self, accounts: Sequence[Account] | None = None) -> dict[Address, int]:
        """Credit of each account (default: every account of the harness)."""
        return {a.address: self.market.credit(a.address) for a in accounts or self.accounts}

    @staticmethod
    def events(receipt: Receipt, name: str | None = None) -> list[Any]:
        """The typed market events of a receipt (of one kind when ``name`` is given)."""
        return [e for e in typed_events(receipt) if name is None or type(e).__name__ == name]


MUTANT_ENV = "BAASIM_TASKMARKET_SOURCE"
"""A Vyper source to deploy instead of the committed artifact (scripts/mutation_check.py)."""


def deploy_market(chain: Chain, deployer: Account) -> TaskMarket:
    """The committed TaskMarket, or the source named by $BAASIM_TASKMARKET_SOURCE (a
    mutant: same interface, so the bindings' ABI still fits)."""
    source = os.environ.get(MUTANT_ENV)
    if not source:
        return TaskMarket.deploy_now(chain, deployer)
    import vyper

    out = vyper.compile_code(Path(source).read_text(), output_formats=["bytecode"])
    code = bytes.fromhex(out["bytecode"].removeprefix("0x"))
    ticket = chain.send(deployer, None, code, gas=10_000_000, label="deploy mutant")
    block = chain.seal(chain.head_timestamp + 1)
    receipt = next(r for r in block.receipts if r.ticket == ticket).raise_for_status()
    assert receipt.contract_address is not None
    return TaskMarket(chain, receipt.contract_address)


@pytest.fixture(scope="session")
def deployed() -> Harness:
    chain = Chain(ChainConfig(), np.random.default_rng(2024), [Wei(1_000 * ETHER)] * N_ACCOUNTS)
    accounts = list(chain.genesis_accounts)
    market = deploy_market(chain, accounts[1])
    return Harness(chain, market, accounts)


@pytest.fixture
def market(deployed: Harness) -> Iterator[Harness]:
    with deployed.chain.snapshot():
        yield deployed
