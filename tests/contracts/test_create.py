"""Creating tasks: the parameter rules, unknown task ids, and wrong-typed binding arguments."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

import pytest

from contracts import compile_contract
from contracts.errors import CallArgumentError, TxFailed
from contracts.taskmarket import Aggregation, TaskParams
from contracts.units import ETHER, Cid, TaskId, Wei

if TYPE_CHECKING:
    from tests.contracts.conftest import Harness

REWARD = Wei(ETHER)


def test_contract_fits_the_eip170_size_limit() -> None:
    assert compile_contract("TaskMarket").runtime_size <= 24_576


def test_create_task_escrows_the_reward_and_records_the_rules(market: Harness) -> None:
    m = market.market
    first = m.next_task_id()
    locked, balance = m.total_locked(), market.chain.balance(m.address)
    params = market.params(commit_reveal=True, aggregation=Aggregation.MEDIAN, trim_bps=1000)
    r = market.ok(m.create_task(market.initiator, Cid("bafkreispec"), params, Wei(3 * ETHER)))
    (created,) = market.events(r, "TaskCreated")
    assert created.task_id == first
    assert (created.initiator, created.reward, created.spec_cid) == (
        market.initiator.address,
        3 * ETHER,
        "bafkreispec",
    )
    task = m.get_task(TaskId(first))
    assert task.params == params
    assert task.initiator == market.initiator.address and task.escrow == 3 * ETHER
    assert (task.n_submissions, task.n_registered, task.n_revealed) == (0, 0, 0)
    assert not (task.drawn or task.finalized or task.cancelled or task.accepted)
    assert m.next_task_id() == first + 1
    assert m.total_locked() == locked + 3 * ETHER
    assert market.chain.balance(m.address) == balance + 3 * ETHER
    second = market.create()
    assert second.task_id == first + 1


BAD_PARAMS: list[tuple[dict[str, Any], str]] = [
    ({"mafr_bps": 0}, "create_task: mafr_bps must be in (0, 10000]"),
    ({"mafr_bps": 10_001}, "create_task: mafr_bps must be in (0, 10000]"),
    ({"committee_size": 0}, "create_task: committee_size must be in [1, 32]"),
    ({"committee_size": 33}, "create_task: committee_size must be in [1, 32]"),
    ({"verifier_share_bps": 10_001}, "create_task: verifier_share_bps above 10000"),
    ({"slash_bps": 10_001}, "create_task: slash_bps above 10000"),
    ({"aggregation": 4}, "create_task: unknown aggregation"),
    ({"trim_bps": 5_000}, "create_task: trim_bps must be below 5000"),
    ({"submission_deadline": 1}, "create_task: submission deadline not in the future"),
    ({"commit_deadline": 100}, "create_task: commit deadline must follow submission deadline"),
    ({"reveal_deadline": 199}, "create_task: reveal deadline before commit deadline"),
    (
        {"reveal_deadline": 200, "commit_reveal": True},
        "create_task: commit-reveal needs reveal after commit deadline",
    ),
]


@pytest.mark.parametrize(("change", "reason"), BAD_PARAMS)
def test_create_task_rejects_bad_parameters(
    market: Harness, change: dict[str, Any], reason: str
) -> None:
    now = market.now()
    # deadlines in the table are offsets from now (the block is sealed at now + 1)
    change = {k: now + v if k.endswith("deadline") else v for k, v in change.items()}
    params = market.params(**change)
    market.fails(market.market.create_task(market.initiator, Cid("bafk"), params, REWARD), reason)


@pytest.mark.parametrize(
    "change",
    [
        {"mafr_bps": 10_000},
        {"committee_size": 32},
        {"verifier_share_bps": 10_000, "slash_bps": 10_000},
        {"trim_bps": 4_999, "aggregation": Aggregation.TRIMMED_MEAN},
        {"submission_deadline": 2},  # the first second after the creating block
        {"reveal_deadline": 200},  # plain reports: the reveal deadline may equal commit's
    ],
)
def test_create_task_accepts_the_boundary_values(market: Harness, change: dict[str, Any]) -> None:
    now = market.now()
    change = {k: now + v if k.endswith("deadline") else v for k, v in change.items()}
    market.ok(
        market.market.create_task(market.initiator, Cid("b"), market.params(**change), REWARD)
    )


def test_zero_reward_and_empty_spec_are_rejected(market: Harness) -> None:
    m, who = market.market, market.initiator
    market.fails(
        m.create_task(who, Cid("bafk"), market.params(), Wei(0)),
        "create_task: reward must be positive",
    )
    market.fails(
        m.create_task(who, Cid(""), market.params(), REWARD), "create_task: empty spec cid"
    )


# ---------------------------------------------------------------- unknown task ids


@pytest.mark.parametrize("task_id", [0, 999])
def test_every_call_names_itself_for_an_unknown_task(market: Harness, task_id: int) -> None:
    m = market.market
    v = market.others[0]
    tid = TaskId(task_id)
    calls = {
        "submit_model": m.submit_model(v, tid, Cid("bafk")),
        "register_verifier": m.register_verifier(v, tid, Wei(0)),
        "cancel": m.cancel(v, tid),
        "draw_committee": m.draw_committee(v, tid),
        "report": m.report(v, tid, 1, []),
        "commit": m.commit(v, tid, b"\x01" * 32),
        "reveal": m.reveal(v, tid, 1, [], b"\x01" * 32),
        "finalize": m.finalize(v, tid),
    }
    block = market.seal()
    reasons = {r.ticket: r.revert_reason for r in block.receipts}
    assert {name: reasons[t] for name, t in calls.items()} == {
        name: f"{name}: unknown task" for name in calls
    }
    views = {
        "get_task": lambda: m.get_task(tid),
        "get_submissions": lambda: m.submissions(tid),
        "get_registrants": lambda: m.registrants(tid),
        "get_committee": lambda: m.committee(tid),
        "get_report": lambda: m.get_report(tid, v.address),
        "has_access": lambda: m.has_access(tid, v.address),
        "accepted_cids": lambda: m.accepted_cids(tid, v.address),
    }
    for name, view in views.items():
        with pytest.raises(TxFailed) as info:
            view()
        assert str(info.value) == f"TaskMarket.{name} failed: {name}: unknown task"


# ---------------------------------------------------------------- wrong-typed arguments


def _params(market: Harness, **kw: Any) -> TaskParams:
    return replace(market.params(), **kw)


WRONG_CALLS: list[tuple[str, Any, str]] = [
    (
        "submit_model task_id",
        lambda h: h.market.submit_model(h.outsider, "1", Cid("bafk")),
        "TaskMarket.submit_model(task_id: uint256, cid: string): "
        "argument 'task_id' expected uint256, got '1' (str)",
    ),
    (
        "submit_model cid",
        lambda h: h.market.submit_model(h.outsider, TaskId(1), 5),
        "argument 'cid' expected string, got 5 (int)",
    ),
    (
        "create_task params type",
        lambda h: h.market.create_task(h.initiator, Cid("b"), {"mafr_bps": 1}, REWARD),
        "TaskMarket.create_task: argument 'params' expected TaskParams, got dict",
    ),
    (
        "create_task float field",
        lambda h: h.market.create_task(h.initiator, Cid("b"), _params(h, mafr_bps=80.5), REWARD),
        "TaskMarket.create_task: params.mafr_bps expected int, got 80.5 (float)",
    ),
    (
        "create_task str field",
        lambda h: h.market.create_task(
            h.initiator, Cid("b"), _params(h, committee_size="3"), REWARD
        ),
        "TaskMarket.create_task: params.committee_size expected int, got '3' (str)",
    ),
    (
        "create_task bool field",
        lambda h: h.market.create_task(h.initiator, Cid("b"), _params(h, commit_reveal=1), REWARD),
        "TaskMarket.create_task: params.commit_reveal expected bool, got 1 (int)",
    ),
    (
        "create_task reward",
        lambda h: h.market.create_task(h.initiator, Cid("b"), h.params(), 1.5 * ETHER),
        "TaskMarket.create_task: argument 'reward' expected a non-negative int of wei",
    ),
    (
        "register_verifier stake",
        lambda h: h.market.register_verifier(h.outsider, TaskId(1), -1),
        "TaskMarket.register_verifier: argument 'stake' expected a non-negative int of wei",
    ),
    (
        "report scores not a sequence",
        lambda h: h.market.report(h.outsider, TaskId(1), 5, 7),
        "TaskMarket.report: argument 'scores_ppm' expected a sequence of ints, got 7 (int)",
    ),
    (
        "report float score",
        lambda h: h.market.report(h.outsider, TaskId(1), 5, [1, 2.5]),
        "argument 'scores_ppm' expected int256[], got [1, 2.5] (list)",
    ),
    (
        "report accuracy",
        lambda h: h.market.report(h.outsider, TaskId(1), "0.9", []),
        "argument 'accuracy_ppm' expected uint256, got '0.9' (str)",
    ),
    (
        "commit short hash",
        lambda h: h.market.commit(h.outsider, TaskId(1), b"\x01" * 31),
        "TaskMarket.commit: argument 'commitment_hash' expected 32 bytes, got 31 bytes",
    ),
    (
        "reveal salt type",
        lambda h: h.market.reveal(h.outsider, TaskId(1), 1, [], "00" * 32),
        "TaskMarket.reveal: argument 'salt' expected 32 bytes, got str",
    ),
    (
        "withdraw sender",
        lambda h: h.market.withdraw(h.outsider.address),
        "TaskMarket.withdraw: argument 'sender' expected an Account, got str",
    ),
    (
        "credit view",
        lambda h: h.market.credit(123),
        "argument 'arg0' expected address, got 123 (int)",
    ),
    (
        "get_task view",
        lambda h: h.market.get_task("1"),
        "TaskMarket.get_task(task_id: uint256): argument 'task_id' expected uint256",
    ),
]


@pytest.mark.parametrize(("what", "call", "message"), WRONG_CALLS, ids=[w[0] for w in WRONG_CALLS])
def test_wrong_typed_arguments_raise_call_argument_error(
    market: Harness, what: str, call: Any, message: str
) -> None:
    with pytest.raises(CallArgumentError) as info:
        call(market)
    assert message in str(info.value)
    assert str(info.value).startswith("TaskMarket.")
    assert market.chain.pending_count == 0  # nothing was queued
