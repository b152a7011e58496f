"""The task board's one rule for the evaluation seed, shared by verifiers and the oracle."""

from __future__ import annotations

import dataclasses
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
