"""Random sequences of every TaskMarket call, checked against a Python model after each step.

A hypothesis ``RuleBasedStateMachine`` drives create/submit/register/cancel/draw/report/
commit/reveal/finalize/withdraw from a dozen accounts across the deadlines (time moves
by sealing blocks at chosen timestamps, often one second before or at a deadline). A
Python model of the contract predicts every call's outcome, success or the exact revert
reason, and what it credits (finalize through ``contracts.settlement.settle``). After
every step it checks:

- the market's balance = deposits (escrows + stakes) - withdrawals
  = ``total_locked`` + ``total_credit``, and both equal the model's;
- ether is conserved: every account + faucet + coinbase + market + burned fees
  = ``chain.genesis_supply``;
- nobody is paid twice: per task at most one TaskFinalized, one ContributorPaid per
  submission and one VerifierPaid per member;
- nothing is paid before finalize: payments, slashes and refunds appear only in the
  receipt of that task's finalize (or its cancel, for refunds and returned stakes),
  and only at or after its reveal deadline.

- drain to zero: at the end of every sequence each open task is finalized (or was
  cancelled) and everyone withdraws; the market must then hold 0 wei, with nothing
  locked or credited.

Tasks draw the parameter edges (stakes up to 2**255, which create must refuse; bps
0/1/9999/10000; committees up to MAX_COMMITTEE; several MAFRs) and the issue-14 switches
``report_window_s`` (members' deadlines run from the draw: the model checks the
guaranteed time), ``no_cancel_after_submission``, ``exclusive_roles``, ``min_stake``,
``burn_orphan_slashes``, ``unrevealed_slash_bps`` (0/1/7500/10000, and 10001, which create
must refuse) and ``undrawn_pays_contributors``. ``future_seed`` and ``sealed_window_s``
have their own tests (test_defences.py), as do the hostile contract actors (test_actors.py).

Examples: 200 in CI. For a long local run set the environment variable
``BAASIM_STATEFUL_EXAMPLES`` (and optionally ``BAASIM_STATEFUL_STEPS``, default 40);
``--hypothesis-show-statistics`` prints the rules' timings and the ``event()`` counts
(outcomes, reverts by reason), and ``-s`` the campaign figures (calls, sequences)::

    BAASIM_STATEFUL_EXAMPLES=10000 .venv/bin/python -m pytest -s \\
        tests/contracts/test_market_stateful.py -p no:cacheprovider \\
        --hypothesis-show-statistics

``scripts/contract_campaign.py`` runs the 256 x 500 campaign (>= 128,000 calls).
"""

from __future__ import annotations

import collections
import os
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

import pytest
from eth_utils import keccak
from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, precondition, rule

from contracts.chain import Account, Receipt
from contracts.settlement import Aggregation, Report, settle, settle_undrawn
from contracts.taskmarket import TaskParams, commitment
from contracts.units import BPS, ETHER, Address, Cid, TaskId, Wei

if TYPE_CHECKING:
    from tests.contracts.conftest import Harness

EXAMPLES = int(os.environ.get("BAASIM_STATEFUL_EXAMPLES", "200"))
STEPS = int(os.environ.get("BAASIM_STATEFUL_STEPS", "40"))
N_PLAYERS = 10
MAX_TASKS = max(4, STEPS // 25)  # long campaigns keep creating tasks
PPM = 1_000_000

GOOD_ACCURACIES = st.sampled_from([0, 500_000, 799_999, 800_000, 850_000, 900_000, 1_000_000])
ACCURACIES = st.one_of(GOOD_ACCURACIES, st.just(1_000_001))
GOOD_SCORES = st.sampled_from([-1_000_000, -7, 0, 1, 3, 250_000, 260_000, 1_000_000])
SCORES = st.one_of(GOOD_SCORES, st.sampled_from([-1_000_001, 1_000_001]))
CIDS = st.sampled_from(["bafkA", "bafkB", "bafkC", "bafkD", "bafkE", "bafkF", ""])
SALTS = st.sampled_from([b"\x01" * 32, b"\x02" * 32])
TASK = st.integers(0, 7)
PLAYER = st.integers(0, N_PLAYERS - 1)
REWARDS = st.sampled_from([0, 1, 10**18 + 3, 7 * ETHER, 7 * ETHER])
MAX_AMOUNT = 2**128
ZERO = Address("0x" + "00" * 20)


@st.composite
def task_rules(draw: st.DrawFn) -> TaskParams:
    """Task parameters with deadlines as offsets from the creating block."""
    commit_reveal = draw(st.booleans())
    aggregation = draw(st.sampled_from(list(Aggregation)))
    sub = draw(st.integers(2, 60))
    commit = sub + draw(st.integers(1, 20))
    reveal = commit + draw(st.integers(1 if commit_reveal else 0, 20))
    stake = draw(st.sampled_from([0, 10**15, ETHER, ETHER, ETHER, ETHER, 2**128 + 1, 2**255]))
    return TaskParams(
        mafr_bps=draw(st.sampled_from([8000, 8000, 1, 5000, 9999, 10_000])),
        committee_size=draw(st.sampled_from([1, 2, 3, 4, 32])),
        verifier_share_bps=draw(st.sampled_from([0, 1, 2_000, 2_000, 9_999, 10_000])),
        submission_deadline=sub,
        commit_deadline=commit,
        reveal_deadline=reveal,
        verifier_stake=Wei(stake),
        slash_bps=draw(st.sampled_from([0, 1, 5_000, 9_999, 10_000])),
        commit_reveal=commit_reveal,
        aggregation=aggregation,
        trim_bps=2_000 if aggregation == Aggregation.TRIMMED_MEAN else 0,
        tolerance_ppm=draw(st.sampled_from([0, 0, 100_000])),
        report_window_s=draw(st.sampled_from([0, 0, 3, 25, 25, 60])),
        no_cancel_after_submission=draw(st.booleans()),
        exclusive_roles=draw(st.booleans()),
        min_stake=Wei(draw(st.sampled_from([0, 0, 0, stake, stake + 1]))),
        burn_orphan_slashes=draw(st.booleans()),
        unrevealed_slash_bps=draw(st.sampled_from([0, 0, 0, 1, 7_500, 10_000, 10_001])),
        undrawn_pays_contributors=draw(st.booleans()),
    )


TASK_RULES = task_rules()
DT = st.sampled_from([1, 1, 1, 2, 3])
STATS: collections.Counter[str] = collections.Counter()


@dataclass
class ModelTask:
    """What the model knows of one task."""

    task_id: TaskId
    initiator: Address
    escrow: int
    p: TaskParams
    submitters: list[Address] = field(default_factory=list)
    registrants: list[Address] = field(default_factory=list)
    committee: list[Address] = field(default_factory=list)
    drawn: bool = False
    commitments: dict[Address, tuple[int, tuple[int, ...], bytes]] = field(default_factory=dict)
    reports: dict[Address, Report] = field(default_factory=dict)
    cancelled: bool = False
    finalized: bool = False
    accepted: bool = False
    drawn_at: int | None = None
    claims: dict[int, int] = field(default_factory=dict)
    """Claim settlement: pay still to claim per submission index (set by finalize)."""
    dust: int = 0
    """Claim settlement: what the last claim returns to the initiator."""

    def report_deadline(self) -> int:
        """The draw must come before this (the paper's report deadline)."""
        return self.p.draw_closes()

    def commit_deadline(self) -> int:
        """The members' commit (or report) deadline: from the draw with report_window_s."""
        return self.p.deadlines(self.drawn_at)[0]

    def reveal_deadline(self) -> int:
        return self.p.deadlines(self.drawn_at)[1]


def expected_draw(prevrandao: bytes, task_id: int, pool: list[Address], k: int) -> list[Address]:
    """The contract's partial Fisher-Yates."""
    r = keccak(prevrandao + task_id.to_bytes(32, "big"))
    pool = list(pool)
    for i in range(min(k, len(pool))):
        j = i + int.from_bytes(r, "big") % (len(pool) - i)
        pool[i], pool[j] = pool[j], pool[i]
        r = keccak(r)
    return pool[: min(k, len(pool))]


class MarketMachine(RuleBasedStateMachine):
    """The market and its model, stepped together.

    A step opens a block at a timestamp, queues one or more calls whose outcome the
    model predicts (applying each predicted success to the model at once, so later
    calls in the same block see it), then seals the block and compares.
    """

    harness: Harness  # set by the test before running

    def __init__(self) -> None:
        super().__init__()
        h = self.harness
        self.m, self.chain = h.market, h.chain
        self._scope = ExitStack()
        self._scope.enter_context(self.chain.snapshot())
        self.players: list[Account] = h.accounts[2 : 2 + N_PLAYERS]
        # ether outside the players, the market and the coinbase: it must never move
        self.idle = (
            self.chain.genesis_supply
            - sum(
                self.chain.balance(a)
                for a in [*(p.address for p in self.players), self.m.address, self.chain.coinbase]
            )
            - self.chain.burned_fees
        )
        # players' balances, re-read only for the senders of each block: if ether reached
        # anyone else, the conservation check below would fail
        self.balances = {p.address: self.chain.balance(p.address) for p in self.players}
        self.tasks: list[ModelTask] = []
        self.credit: dict[Address, int] = {}
        # the model's sums are plain ints (Wei + int is int)
        self.locked: int = self.m.total_locked()
        self.total_credit: int = self.m.total_credit()
        self.deposits: int = self.chain.balance(self.m.address)
        self.withdrawn = 0
        self.burned = 0
        self.zero_balance = self.chain.balance(ZERO)
        self.in_step = False
        STATS["sequences"] += 1
        self.finalized_seen: set[int] = set()
        self.paid_contrib: set[tuple[int, int]] = set()
        self.paid_verifier: set[tuple[int, Address]] = set()
        self.changed: set[Address] = set()
        self.step = 0
        self.ts = 0
        self.prevrandao = b""
        self.queue: list[tuple[int, str | None, Callable[[Receipt], None] | None]] = []

    def teardown(self) -> None:
        try:
            if not self.in_step:  # a failed step keeps its own error
                self._drain_to_zero()
        finally:
            self._scope.close()

    def _drain_to_zero(self) -> None:
        """Finalize every open task once its deadline has passed, let everyone withdraw:
        the market must then hold nothing."""
        for i, t in enumerate(self.tasks):
            if t.cancelled or t.finalized:
                continue
            wait = t.reveal_deadline() - self.chain.head_timestamp
            self.finalize(i, 0, max(wait, 1))
        for t in self.tasks:  # claim settlement: every open claim, in one block
            if t.claims:
                self._begin(1)
                for index in sorted(t.claims):
                    self._claim(t, index, self.players[0])
                self._end()
        self.everyone_withdraws(1)
        assert self.chain.balance(self.m.address) == 0
        assert self.m.total_locked() == 0 and self.m.total_credit() == 0
        STATS["drained"] += 1

    # ------------------------------------------------------------ blocks

    def _begin(self, dt: int) -> None:
        STATS["blocks"] += 1
        self.in_step = True
        self.step += 1
        self.ts = self.chain.head_timestamp + dt
        self.prevrandao = keccak(self.step.to_bytes(8, "big"))

    def _queue(
        self, ticket: int, expect: str | None, after: Callable[[Receipt], None] | None = None
    ) -> None:
        self.queue.append((ticket, expect, after))

    def _end(self) -> list[Receipt]:
        block = self.chain.seal(self.ts, self.prevrandao)
        assert block.deferred == 0
        by_ticket = {r.ticket: r for r in block.receipts}
        for r in block.receipts:
            self.balances[r.sender] = self.chain.balance(r.sender)
        out = []
        STATS["calls"] += len(self.queue)
        for ticket, expect, after in self.queue:
            r = by_ticket[ticket]
            assert r.included, r.revert_reason
            got = None if r.ok else r.revert_reason
            event(f"{(r.label or '').removeprefix('TaskMarket.')}: {got or 'ok'}")
            assert got == expect, f"{r.label}: contract said {got!r}, model said {expect!r}"
            self._check_payment_events(r)
            if after is not None and r.ok:
                after(r)
            out.append(r)
        self.queue = []
        self.invariants_hold()
        self.in_step = False
        return out

    def _task(self, index: int) -> ModelTask | None:
        return self.tasks[index % len(self.tasks)] if self.tasks else None

    def _add_credit(self, who: Address, amount: int) -> None:
        if amount:
            self.credit[who] = self.credit.get(who, 0) + amount
            self.total_credit += amount
            self.changed.add(who)

    def _initiator(self, t: ModelTask) -> Account:
        return next(a for a in self.players if a.address == t.initiator)

    @staticmethod
    def _open(t: ModelTask, call: str) -> str | None:
        if t.cancelled:
            return f"{call}: task cancelled"
        if t.finalized:
            return f"{call}: task finalized"
        return None

    @staticmethod
    def _record_check(
        t: ModelTask, who: Address, acc: int, scores: tuple[int, ...], call: str
    ) -> str | None:
        if who not in t.committee:
            return f"{call}: not a committee member"
        if who in t.reports:
            return f"{call}: already reported"
        if acc > PPM:
            return f"{call}: accuracy above 1e6 ppm"
        if len(scores) != len(t.submitters):
            return f"{call}: one score per submitted model needed"
        if any(not -PPM <= s <= PPM for s in scores):
            return f"{call}: score outside [-1e6, 1e6] ppm"
        return None

    # ------------------------------------------------------------ one call each: model + queue

    def _submit(self, t: ModelTask, sender: Account, cid: str) -> None:
        expect = self._open(t, "submit_model")
        if expect is None:
            if self.ts >= t.p.submission_deadline:
                expect = "submit_model: submission deadline passed"
            elif sender.address == t.initiator:
                expect = "submit_model: initiator cannot contribute to its own task"
            elif sender.address in t.submitters:
                expect = "submit_model: already submitted"
            elif t.p.exclusive_roles and sender.address in t.registrants:
                expect = "submit_model: verifier cannot contribute"
            elif not cid:
                expect = "submit_model: empty cid"
        self._queue(self.m.submit_model(sender, t.task_id, Cid(cid)), expect)
        if expect is None:
            t.submitters.append(sender.address)

    def _register(self, t: ModelTask, sender: Account, wrong: int) -> None:
        value = t.p.verifier_stake + wrong
        expect = self._open(t, "register_verifier")
        if expect is None:
            if self.ts >= t.p.submission_deadline:
                expect = "register_verifier: registration closed"
            elif sender.address == t.initiator:
                expect = "register_verifier: initiator cannot verify its own task"
            elif sender.address in t.registrants:
                expect = "register_verifier: already registered"
            elif t.p.exclusive_roles and sender.address in t.submitters:
                expect = "register_verifier: contributor cannot verify"
            elif wrong:
                expect = "register_verifier: value must equal the task's verifier stake"
        self._queue(self.m.register_verifier(sender, t.task_id, Wei(value)), expect)
        if expect is None:
            t.registrants.append(sender.address)
            self.locked += value
            self.deposits += value

    def _pending_members(self, t: ModelTask) -> list[Account]:
        members = [a for a in self.players if a.address in t.committee]
        return [v for v in members if v.address not in t.reports | t.commitments]

    def _late_member_possible(self, t: ModelTask) -> bool:
        if t.drawn_at is None or not t.p.report_window_s or t.finalized:
            return False
        last = t.drawn_at + t.p.report_window_s - 1
        return last > self.chain.head_timestamp and bool(self._pending_members(t))

    @rule(task=TASK, data=st.data())
    def member_at_the_guaranteed_time(self, task: int, data: st.DataObject) -> None:
        """With report_window_s, a member reporting (or committing) at the last second of
        the window counted from the draw, however late the draw, is accepted."""
        t = self._task(task)
        if t is None or not self._late_member_possible(t):
            return
        last = t.p.deadlines(t.drawn_at)[0] - 1
        v = data.draw(st.sampled_from(self._pending_members(t)))
        self._begin(last - self.chain.head_timestamp)
        if t.p.commit_reveal:
            self._commit(t, v, *self._honest_values(data, t), data.draw(SALTS))
            assert self.queue[-1][1] is None, "commit refused inside the guaranteed window"
        else:
            self._report(t, v, *self._honest_values(data, t))
            assert self.queue[-1][1] is None, "report refused inside the guaranteed window"
        STATS["guaranteed window used"] += 1
        self._end()

    def _report(self, t: ModelTask, sender: Account, acc: int, scores: tuple[int, ...]) -> None:
        claim = t.p.aggregation == Aggregation.CLAIM
        if claim and t.p.commit_reveal:
            # report_claim serves both: with commit-reveal it reveals (the binding's salt: zero)
            self._reveal(t, sender, acc, scores, bytes(32))
            return
        call = "report_claim" if claim else "report"
        expect = self._open(t, call)
        if expect is None:
            if t.p.commit_reveal:
                expect = f"{call}: this task uses commit-reveal"
            elif not t.drawn:
                expect = f"{call}: committee not drawn"
            elif self.ts >= t.reveal_deadline():
                expect = f"{call}: reveal deadline passed"
            else:
                expect = self._record_check(t, sender.address, acc, scores, call)
        self._queue(self.m.report(sender, t.task_id, acc, list(scores), claim), expect)
        if expect is None:
            t.reports[sender.address] = Report(acc, scores)

    def _commit(
        self, t: ModelTask, sender: Account, acc: int, scores: tuple[int, ...], salt: bytes
    ) -> None:
        expect = self._open(t, "commit")
        if expect is None:
            if not t.p.commit_reveal:
                expect = "commit: this task does not use commit-reveal"
            elif not t.drawn:
                expect = "commit: committee not drawn"
            elif self.ts >= t.commit_deadline():
                expect = "commit: commit deadline passed"
            elif sender.address not in t.committee:
                expect = "commit: not a committee member"
            elif sender.address in t.commitments:
                expect = "commit: already committed"
        digest = commitment(t.task_id, sender.address, acc, scores, salt)
        self._queue(self.m.commit(sender, t.task_id, digest), expect)
        if expect is None:
            t.commitments[sender.address] = (acc, scores, salt)

    def _reveal(
        self, t: ModelTask, sender: Account, acc: int, scores: tuple[int, ...], salt: bytes
    ) -> None:
        claim = t.p.aggregation == Aggregation.CLAIM
        if claim and not t.p.commit_reveal:
            self._report(t, sender, acc, scores)  # report_claim ignores the salt then
            return
        call = "report_claim" if claim else "reveal"
        committed = t.commitments.get(sender.address)
        expect = self._open(t, call)
        if expect is None:
            if not t.p.commit_reveal:
                expect = f"{call}: this task does not use commit-reveal"
            elif self.ts < t.commit_deadline():
                expect = f"{call}: commit phase still open"
            elif self.ts >= t.reveal_deadline():
                expect = f"{call}: reveal deadline passed"
            elif committed is None:
                expect = f"{call}: no commitment"
            elif committed != (acc, scores, salt):
                expect = f"{call}: does not match commitment"
            else:
                expect = self._record_check(t, sender.address, acc, scores, call)
        self._queue(self.m.reveal(sender, t.task_id, acc, list(scores), salt, claim), expect)
        if expect is None:
            t.reports[sender.address] = Report(acc, scores)

    def _withdraw(self, sender: Account) -> None:
        owed = self.credit.get(sender.address, 0)
        expect = None if owed else "withdraw: nothing to withdraw"
        before = self.chain.balance(sender.address)

        def after(r: Receipt) -> None:
            (w,) = r.events_named("Withdrawn")
            assert w["amount"] == owed
            assert self.chain.balance(sender.address) == before + owed - r.fee

        self._queue(self.m.withdraw(sender), expect, after)
        if expect is None:
            self.credit[sender.address] = 0
            self.total_credit -= owed
            self.withdrawn += owed
            self.changed.add(sender.address)

    # ------------------------------------------------------------ value strategies

    def _values(self, data: st.DataObject, t: ModelTask) -> tuple[int, tuple[int, ...]]:
        """Accuracy and scores, sometimes out of range or of the wrong length."""
        n = len(t.submitters)
        length = data.draw(st.sampled_from([n, n, n, n, n + 1, max(n - 1, 0)]))
        scores = data.draw(st.lists(SCORES, min_size=length, max_size=length))
        return data.draw(ACCURACIES), tuple(scores)

    def _honest_values(self, data: st.DataObject, t: ModelTask) -> tuple[int, tuple[int, ...]]:
        """Valid accuracy and scores (members of a committee round)."""
        n = len(t.submitters)
        scores = data.draw(st.lists(GOOD_SCORES, min_size=n, max_size=n))
        return data.draw(GOOD_ACCURACIES), tuple(scores)

    def _someone(self, data: st.DataObject, t: ModelTask) -> Account:
        """Usually a committee member (when there is one), sometimes anyone."""
        members = [a for a in self.players if a.address in t.committee]
        if members and data.draw(st.integers(0, 3)) != 0:
            return data.draw(st.sampled_from(members))
        return data.draw(st.sampled_from(self.players))

    # ------------------------------------------------------------ rules

    def _create(self, who: int, reward: int, rules: TaskParams, dt: int) -> None:
        self._begin(dt)
        p = replace(
            rules,
            submission_deadline=self.ts + rules.submission_deadline,
            commit_deadline=self.ts + rules.commit_deadline,
            reveal_deadline=self.ts + rules.reveal_deadline,
        )
        sender = self.players[who]
        expect = None if reward > 0 else "create_task: reward must be positive"
        if expect is None and max(p.slash_bps, p.unrevealed_slash_bps) > 10_000:
            expect = "create_task: slash_bps above 10000"
        if expect is None and p.aggregation == Aggregation.CLAIM and p.tolerance_ppm:
            expect = "create_task: claim settlement needs tolerance_ppm 0"
        if expect is None and not p.min_stake <= p.verifier_stake <= MAX_AMOUNT:
            expect = "create_task: verifier_stake outside [min_stake, 2**128]"
        tid = TaskId(self.m.next_task_id())
        self._queue(self.m.create_task(sender, Cid("bafkspec"), p, Wei(reward)), expect)
        if expect is None:
            self.tasks.append(ModelTask(tid, sender.address, reward, p))
            self.locked += reward
            self.deposits += reward
        self._end()

    @initialize(who=PLAYER, rules=TASK_RULES, data=st.data(), phases=st.integers(0, 8))
    def first_task(self, who: int, rules: TaskParams, data: st.DataObject, phases: int) -> None:
        """Every run starts with a task, taken some way through its life."""
        self._create(who, 7 * ETHER, rules, 1)
        self.lifecycle(0, data, phases)

    @precondition(lambda self: len(self.tasks) < MAX_TASKS)
    @rule(who=PLAYER, reward=REWARDS, rules=TASK_RULES, dt=DT)
    def create_task(self, who: int, reward: int, rules: TaskParams, dt: int) -> None:
        self._create(who, reward, rules, dt)

    @rule(task=TASK, data=st.data(), phases=st.integers(1, 8))
    def lifecycle(self, task: int, data: st.DataObject, phases: int) -> None:
        """Move a task on through up to ``phases`` blocks: join, draw, report, finalize."""
        for _ in range(phases):
            if not self._next_phase(task, data):
                break

    def _next_phase(self, task: int, data: st.DataObject) -> bool:
        t = self._task(task)
        if t is None:
            return False
        if t.cancelled or t.finalized:
            self.everyone_withdraws(1)
            return False
        p, soon = t.p, self.chain.head_timestamp + 1
        if soon < p.submission_deadline:
            self._begin(1)
            for who in data.draw(st.lists(st.sampled_from(self.players), max_size=8)):
                self._register(t, who, 0)
            for who in data.draw(st.lists(st.sampled_from(self.players), max_size=5)):
                self._submit(t, who, data.draw(CIDS))
            self._end()
            # then wait for the deadline
            self._begin(p.submission_deadline - soon + 1)
            self._end()
        elif not t.drawn and soon < t.report_deadline():
            self.draw_committee(task, 0, 1)
        elif self._late_member_possible(t) and data.draw(st.booleans()):
            self.member_at_the_guaranteed_time(task, data)
        elif (
            t.drawn
            and t.committee
            and soon < t.reveal_deadline()
            and (not p.commit_reveal or soon >= t.commit_deadline() or not t.commitments)
        ):
            self.committee_round(task, data, 1)
        elif soon >= t.reveal_deadline():
            self.finalize(task, 0, 1)
        else:
            upcoming = [d for d in (t.commit_deadline(), t.reveal_deadline()) if d > soon]
            self._begin(min(upcoming) - soon + 1)
            self._end()
        return True

    @rule(task=TASK, who=PLAYER, cid=CIDS, dt=DT)
    def submit_model(self, task: int, who: int, cid: str, dt: int) -> None:
        t = self._task(task)
        if t is not None:
            self._begin(dt)
            self._submit(t, self.players[who], cid)
            self._end()

    @rule(task=TASK, data=st.data(), dt=DT)
    def crowd_submits(self, task: int, data: st.DataObject, dt: int) -> None:
        """Several players submit in one block (CIDs may repeat)."""
        t = self._task(task)
        if t is None:
            return
        people = data.draw(st.lists(st.sampled_from(self.players), min_size=1, max_size=6))
        self._begin(dt)
        for who in people:
            self._submit(t, who, data.draw(CIDS))
        self._end()

    @rule(task=TASK, who=PLAYER, wrong=st.sampled_from([0, 0, 1]), dt=DT)
    def register_verifier(self, task: int, who: int, wrong: int, dt: int) -> None:
        t = self._task(task)
        if t is not None:
            self._begin(dt)
            self._register(t, self.players[who], wrong)
            self._end()

    @rule(task=TASK, data=st.data(), dt=DT)
    def crowd_registers(self, task: int, data: st.DataObject, dt: int) -> None:
        """Several players register in one block."""
        t = self._task(task)
        if t is None:
            return
        people = data.draw(st.lists(st.sampled_from(self.players), min_size=1, max_size=6))
        self._begin(dt)
        for who in people:
            self._register(t, who, 0)
        self._end()

    @rule(task=TASK, by_initiator=st.sampled_from([True, False, False]), who=PLAYER, dt=DT)
    def cancel(self, task: int, by_initiator: bool, who: int, dt: int) -> None:
        t = self._task(task)
        if t is None:
            return
        self._begin(dt)
        sender = self._initiator(t) if by_initiator else self.players[who]
        expect = self._open(t, "cancel")
        if expect is None:
            if sender.address != t.initiator:
                expect = "cancel: only the initiator can cancel"
            elif self.ts >= t.p.submission_deadline:
                expect = "cancel: submission deadline passed"
            elif t.p.no_cancel_after_submission and t.submitters:
                expect = "cancel: a model was submitted"
        self._queue(self.m.cancel(sender, t.task_id), expect)
        if expect is None:
            t.cancelled = True
            self._add_credit(t.initiator, t.escrow)
            for v in t.registrants:
                self._add_credit(v, t.p.verifier_stake)
            self.locked -= t.escrow + t.p.verifier_stake * len(t.registrants)
        self._end()

    @rule(task=TASK, who=PLAYER, dt=DT)
    def draw_committee(self, task: int, who: int, dt: int) -> None:
        t = self._task(task)
        if t is None:
            return
        self._begin(dt)
        expect = self._open(t, "draw_committee")
        if expect is None:
            if self.ts < t.p.submission_deadline:
                expect = "draw_committee: submissions still open"
            elif self.ts >= t.report_deadline():
                expect = "draw_committee: reporting window closed"
            elif t.drawn:
                expect = "draw_committee: already drawn"

        def after(r: Receipt) -> None:
            (drawn,) = r.events_named("CommitteeDrawn")
            assert drawn["members"] == t.committee

        self._queue(self.m.draw_committee(self.players[who], t.task_id), expect, after)
        if expect is None:
            t.drawn = True
            t.drawn_at = self.ts
            t.committee = expected_draw(
                self.prevrandao, t.task_id, t.registrants, t.p.committee_size
            )
            for v in t.registrants:
                if v not in t.committee:
                    self._add_credit(v, t.p.verifier_stake)
            self.locked -= t.p.verifier_stake * (len(t.registrants) - len(t.committee))
        self._end()

    @rule(task=TASK, data=st.data(), dt=DT)
    def report(self, task: int, data: st.DataObject, dt: int) -> None:
        t = self._task(task)
        if t is not None:
            self._begin(dt)
            self._report(t, self._someone(data, t), *self._values(data, t))
            self._end()

    @rule(task=TASK, data=st.data(), dt=DT)
    def commit(self, task: int, data: st.DataObject, dt: int) -> None:
        t = self._task(task)
        if t is not None:
            self._begin(dt)
            sender = self._someone(data, t)
            acc, scores = self._values(data, t)
            self._commit(t, sender, acc, scores, data.draw(SALTS))
            self._end()

    @rule(task=TASK, data=st.data(), honest=st.integers(0, 4), dt=DT)
    def reveal(self, task: int, data: st.DataObject, honest: int, dt: int) -> None:
        t = self._task(task)
        if t is None:
            return
        self._begin(dt)
        sender = self._someone(data, t)
        committed = t.commitments.get(sender.address)
        if committed is not None and honest:
            acc, scores, salt = committed
        else:
            acc, scores = self._values(data, t)
            salt = data.draw(SALTS)
        self._reveal(t, sender, acc, scores, salt)
        self._end()

    @rule(task=TASK, data=st.data(), dt=DT)
    def committee_round(self, task: int, data: st.DataObject, dt: int) -> None:
        """The committee members act in one block: report, commit or reveal as the phase asks."""
        t = self._task(task)
        if t is None or not t.committee:
            return
        self._begin(dt)
        members = [a for a in self.players if a.address in t.committee]
        for v in data.draw(st.permutations(members)):
            if data.draw(st.integers(0, 5)) == 0:
                continue  # this one stays away
            if not t.p.commit_reveal:
                self._report(t, v, *self._honest_values(data, t))
            elif self.ts < t.commit_deadline():
                self._commit(t, v, *self._honest_values(data, t), data.draw(SALTS))
            elif v.address in t.commitments:
                self._reveal(t, v, *t.commitments[v.address])
        self._end()

    @rule(task=TASK, who=PLAYER, dt=DT)
    def finalize(self, task: int, who: int, dt: int) -> None:
        t = self._task(task)
        if t is None:
            return
        self._begin(dt)
        expect = self._open(t, "finalize")
        if expect is None and self.ts < t.reveal_deadline():
            expect = "finalize: reveal deadline not reached"
        after = None
        if expect is None:
            t.finalized = True
            after = self._settle(t)
        self._queue(self.m.finalize(self.players[who], t.task_id), expect, after)
        self._end()

    def _settle(self, t: ModelTask) -> Callable[[Receipt], None] | None:
        stake = t.p.verifier_stake
        if not t.drawn:
            for v in t.registrants:
                self._add_credit(v, stake)
            pay, refund = settle_undrawn(t.p.rules(), Wei(t.escrow), len(t.submitters))
            self.locked -= stake * len(t.registrants) + t.escrow
            if any(pay):
                STATS["undrawn paid"] += 1
            if t.p.aggregation == Aggregation.CLAIM and t.p.undrawn_pays_contributors and pay:
                # claim settlement: the escrow stays locked, each submission claims its share
                # (even a share of 0 wei: the contract opens the claims whenever it pays)
                t.claims = dict(enumerate(pay))
                t.dust = refund
                self.locked += t.escrow
                STATS["undrawn claim tasks"] += 1
                return None
            for who, amount in zip(t.submitters, pay, strict=True):
                self._add_credit(who, amount)
            self._add_credit(t.initiator, refund)
            return None
        s = settle(t.p.rules(), Wei(t.escrow), t.committee, t.reports, len(t.submitters))
        t.accepted = s.accepted
        credits = s.credits(t.initiator, t.submitters)
        self.locked -= stake * len(t.committee) + t.escrow
        if (
            t.p.aggregation == Aggregation.CLAIM
            and s.accepted
            and any(x > 0 for x in s.aggregate_scores_ppm)
        ):
            # claim settlement: the contributor pool stays locked until claimed
            cpool = t.escrow - t.escrow * t.p.verifier_share_bps // BPS
            for m, who in enumerate(t.submitters):
                credits[who] = Wei(credits.get(who, 0) - s.contributor_pay[m])
            t.dust = cpool - sum(s.contributor_pay)
            credits[t.initiator] = Wei(credits.get(t.initiator, 0) - t.dust)
            if cpool:
                t.claims = {
                    m: s.contributor_pay[m] for m, x in enumerate(s.aggregate_scores_ppm) if x > 0
                }
                self.locked += cpool
            STATS["claim tasks settled"] += 1
        for who, amount in credits.items():
            self._add_credit(who, amount)
        self.burned += s.burned
        if s.burned:
            STATS["burned"] += 1

        def after(r: Receipt) -> None:
            (fin,) = r.events_named("TaskFinalized")
            assert fin["accepted"] == s.accepted
            assert fin["aggregate_accuracy_ppm"] == s.aggregate_accuracy_ppm
            assert fin["n_agreeing"] == len(s.agreeing)
            STATS["accepted" if s.accepted else "rejected"] += 1
            STATS["with reports"] += bool(t.reports)

        return after

    @rule(task=TASK, index=st.integers(0, 4), who=PLAYER, dt=DT)
    def claim_pay(self, task: int, index: int, who: int, dt: int) -> None:
        t = self._task(task)
        if t is None:
            return
        self._begin(dt)
        self._claim(t, index, self.players[who])
        self._end()

    def _claim(self, t: ModelTask, index: int, sender: Account) -> None:
        if index not in t.claims:
            why = "claim_pay: nothing owed to this submission"
            self._queue(self.m.claim_pay(sender, t.task_id, index), why)
            return
        amount = t.claims.pop(index)
        self._add_credit(t.submitters[index], amount)
        self.locked -= amount
        if not t.claims:
            self._add_credit(t.initiator, t.dust)
            self.locked -= t.dust
        STATS["claims paid"] += 1
        self._queue(self.m.claim_pay(sender, t.task_id, index), None)

    @rule(who=PLAYER, dt=DT)
    def withdraw(self, who: int, dt: int) -> None:
        self._begin(dt)
        self._withdraw(self.players[who])
        self._end()

    @rule(dt=DT)
    def everyone_withdraws(self, dt: int) -> None:
        """Every player with a credit withdraws, in one block."""
        self._begin(dt)
        for p in self.players:
            if self.credit.get(p.address):
                self._withdraw(p)
        self._end()

    @rule(
        task=TASK,
        which=st.sampled_from(["submission", "commit", "reveal"]),
        offset=st.sampled_from([-1, -1, 0, 1, 9]),
    )
    def advance_time(self, task: int, which: str, offset: int) -> None:
        """Seal an empty block just before, at or after one of a task's deadlines."""
        t = self._task(task)
        now = self.chain.head_timestamp
        target = now + 1
        if t is not None:
            deadline = {
                "submission": t.p.submission_deadline,
                "commit": t.commit_deadline(),
                "reveal": t.reveal_deadline(),
            }[which]
            target = deadline + offset
        self._begin(max(target - now, 1))
        self._end()

    @rule(task=TASK)
    def views_agree(self, task: int) -> None:
        t = self._task(task)
        if t is None:
            return
        got = self.m.get_task(t.task_id)
        assert (got.n_submissions, got.n_registered, got.n_revealed) == (
            len(t.submitters),
            len(t.registrants),
            len(t.reports),
        )
        assert (got.drawn, got.cancelled, got.finalized, got.accepted) == (
            t.drawn,
            t.cancelled,
            t.finalized,
            t.accepted,
        )
        assert self.m.committee(t.task_id) == t.committee
        assert self.m.has_access(t.task_id, t.initiator) == (t.finalized and t.accepted)

    # ------------------------------------------------------------ invariants

    def _check_payment_events(self, r: Receipt) -> None:
        """Payments only in finalize, once each; refunds and stakes only in their phases."""
        finals = {e["task_id"] for e in r.events_named("TaskFinalized")}
        cancels = {e["task_id"] for e in r.events_named("TaskCancelled")}
        draws = {e["task_id"] for e in r.events_named("CommitteeDrawn")}
        for tid in finals:
            assert tid not in self.finalized_seen, f"task {tid} finalized twice"
            self.finalized_seen.add(tid)
            t = next(x for x in self.tasks if x.task_id == tid)
            assert r.timestamp >= t.reveal_deadline()
        claims = {e["task_id"] for e in r.events_named("ContributorPaid")}
        if r.label != "TaskMarket.claim_pay":
            claims = set()
        for e in r.events:
            tid = e.args.get("task_id")
            if e.name in ("ContributorPaid", "VerifierPaid", "VerifierSlashed"):
                assert tid in finals | claims, f"{e.name} outside finalize and claim_pay"
            if e.name == "Refunded":
                assert tid in finals | cancels | claims, "refund outside finalize/cancel/claim"
            if e.name == "StakeReturned":
                assert tid in finals | cancels | draws, "stake returned outside its phases"
            if e.name == "ContributorPaid":
                key = (e["task_id"], e["index"])
                assert key not in self.paid_contrib, "contributor paid twice"
                self.paid_contrib.add(key)
                STATS["contributor paid"] += 1
            if e.name == "VerifierPaid":
                vkey = (e["task_id"], e["verifier"])
                assert vkey not in self.paid_verifier, "verifier paid twice"
                self.paid_verifier.add(vkey)

    def invariants_hold(self) -> None:
        """Checked after every block (rules that seal no block change nothing)."""
        self._market_balance_is_deposits_minus_withdrawals()
        self._credits_match_the_model()
        self._ether_is_conserved()

    def _market_balance_is_deposits_minus_withdrawals(self) -> None:
        balance = self.chain.balance(self.m.address)
        assert balance == self.deposits - self.withdrawn - self.burned
        assert self.m.total_burned() == self.burned
        assert self.m.total_locked() == self.locked
        assert self.m.total_credit() == self.total_credit
        assert balance == self.locked + self.total_credit

    def _credits_match_the_model(self) -> None:
        for who in self.changed:
            assert self.m.credit(who) == self.credit.get(who, 0)
        self.changed.clear()

    def _ether_is_conserved(self) -> None:
        c = self.chain
        held = sum(self.balances.values()) + self.idle
        held += c.balance(c.coinbase) + c.balance(self.m.address)
        # wei burned by burn_orphan_slashes sits at the zero address
        assert c.balance(ZERO) == self.zero_balance + self.burned
        assert held + self.burned + c.burned_fees == c.genesis_supply


def _total_ether(h: Harness) -> int:
    c = h.chain
    held: int = sum(c.balance(a.address) for a in h.accounts)
    held += c.balance(c.faucet.address) + c.balance(c.coinbase) + c.balance(h.market.address)
    return held + c.burned_fees


@pytest.fixture(autouse=True)
def _machine_on_the_session_chain(deployed: Harness) -> Iterator[None]:
    """Give the machine its chain, then check what the whole run left behind."""
    assert _total_ether(deployed) == deployed.chain.genesis_supply
    STATS.clear()
    MarketMachine.harness = deployed
    yield
    assert _total_ether(deployed) == deployed.chain.genesis_supply
    # the campaign figures (shown with pytest -s; scripts/contract_campaign.py reads them)
    print(
        f"\nCAMPAIGN calls={STATS['calls']} blocks={STATS['blocks']} "
        f"sequences={STATS['sequences']} "
        f"drained={STATS['drained']} examples={EXAMPLES} steps={STEPS} "
        f"accepted={STATS['accepted']} rejected={STATS['rejected']} "
        f"burned={STATS['burned']} guaranteed={STATS['guaranteed window used']} "
        f"claim_settled={STATS['claim tasks settled']} claims_paid={STATS['claims paid']} "
        f"undrawn_paid={STATS['undrawn paid']} undrawn_claims={STATS['undrawn claim tasks']}"
    )
    if EXAMPLES >= 100:  # the runs reached every kind of outcome, not only reverts
        assert STATS["accepted"] and STATS["rejected"] and STATS["contributor paid"], STATS


# collected by pytest as a unittest case, so --hypothesis-show-statistics reports it
TestMarketMachine = MarketMachine.TestCase
TestMarketMachine.settings = settings(
    max_examples=EXAMPLES,
    stateful_step_count=STEPS,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
