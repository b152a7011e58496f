"""The task board's one rule for the evaluation seed, shared by verifiers and the oracle."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Literal

from contracts.taskmarket import TaskCreated, TaskParams
from contracts.units import Address, Cid, TaskId, Wei
from sim.scenario import TaskSection
from sim.watcher import TaskEntry


def entry(evaluation_seed: Literal["committee", "own"], committee_seed: int | None) -> TaskEntry:
    created = TaskCreated(1, "0x", TaskId(0), Address("0x1"), Wei(1), Cid("cid"))
    params = TaskParams(500, 3, 2000, 10, 20, 30)
    template = dataclasses.replace(TaskSection(), evaluation_seed=evaluation_seed)
    return TaskEntry(created, params, template, committee_seed=committee_seed)


def test_members_share_the_committee_seed_once_it_is_drawn() -> None:
    assert entry("committee", 42).evaluation_seed(7) == 42
    assert entry("committee", None).evaluation_seed(7) == 7  # not drawn (yet)
    assert entry("own", 42).evaluation_seed(7) == 7


def test_waiters_wake_in_the_order_they_began_waiting_whatever_their_task() -> None:
    import simpy

    from contracts.taskmarket import MarketEvent, TaskFinalized
    from sim.watcher import ChainWatcher

    env = simpy.Environment()
    watcher = ChainWatcher(env)
    woken: list[str] = []

    def finalized(tid: int) -> TaskFinalized:
        return TaskFinalized(1, "0x", TaskId(tid), True, 1, 1, 1)

    def is_task(tid: int) -> Callable[[MarketEvent], bool]:
        return lambda e: isinstance(e, TaskFinalized) and e.task_id == tid

    waits = {
        "a (task 1)": watcher.wait_for(MarketEvent, is_task(1), task=TaskId(1)),
        "b (any)": watcher.wait_for(MarketEvent, is_task(1)),
        "c (task 2)": watcher.wait_for(MarketEvent, is_task(2), task=TaskId(2)),
        "d (task 1)": watcher.wait_for(TaskFinalized, is_task(1), task=TaskId(1)),
    }

    def note(name: str) -> Callable[[object], None]:
        return lambda _e: woken.append(name)

    for name, ev in waits.items():
        ev.callbacks.append(note(name))
    watcher._dispatch(finalized(1))
    env.run()
    assert woken == ["a (task 1)", "b (any)", "d (task 1)"]
    watcher._dispatch(finalized(2))
    env.run()
    assert woken[-1] == "c (task 2)" and not watcher._by_task and not watcher._waiters
