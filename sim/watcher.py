"""Chain events as SimPy events: what an agent's node tells it about sealed blocks.

The block producer hands every sealed block to the ``ChainWatcher``; it turns the market's
logs into typed events, keeps the task board (which tasks exist and in which phase), wakes
the processes waiting for an event, and calls persistent subscribers.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from dataclasses import dataclass

import simpy

from contracts.chain import Block
from contracts.taskmarket import (
    CommitteeDrawn,
    MarketEvent,
    TaskCancelled,
    TaskCreated,
    TaskFinalized,
    TaskParams,
    typed_events,
)
from contracts.units import Address, TaskId
from sim.scenario import TaskSection

Predicate = Callable[[MarketEvent], bool]
Waiter = tuple[type[MarketEvent], Predicate, simpy.Event]


@dataclass
class TaskEntry:
    """What the chain has said about one task so far."""

    created: TaskCreated
    params: TaskParams
    template: TaskSection
    committee: tuple[Address, ...] | None = None
    committee_seed: int | None = None
    """The committee draw's on-chain seed as an integer (the shared evaluation seed)."""
    finalized: TaskFinalized | None = None
    cancelled: bool = False
    drawn_at: int | None = None
    """Block timestamp of the committee draw."""

    @property
    def open(self) -> bool:
        return self.finalized is None and not self.cancelled

    def deadlines(self) -> tuple[int, int]:
        """The members' (report or commit, reveal) deadlines, as the contract computes them:
        the task's own, or — with ``report_window_s`` on and the committee drawn — counted
        from the draw (a guaranteed time to report, however late the draw came)."""
        p = self.params
        w = p.report_window_s
        if w == 0 or self.drawn_at is None:
            return (p.commit_deadline if p.commit_reveal else p.reveal_deadline), p.reveal_deadline
        if p.commit_reveal:
            return self.drawn_at + w, self.drawn_at + 2 * w
        return self.drawn_at + w, self.drawn_at + w

    def evaluation_seed(self, own: int) -> int:
        """The seed a verifier evaluates this task's submissions with.

        With ``evaluation_seed = "committee"`` every member (and the oracle) uses the
        committee draw's shared seed once it is drawn, so honest members agree bit for bit;
        otherwise each uses ``own`` (its private stream's seed).
        """
        if self.template.evaluation_seed == "committee" and self.committee_seed is not None:
            return self.committee_seed
        return own


class ChainWatcher:
    """Dispatches typed market events from sealed blocks."""

    def __init__(self, env: simpy.Environment):
        self.env = env
        # Waiters by insertion number: those that may match any event, and those that
        # match only events of one task (``wait_for(..., task=)``), so an event is tried
        # against the waiters of its own task only. Both dicts keep insertion order, and an
        # event wakes its matches in the order they began waiting, as one list would.
        self._seq = 0
        self._waiters: dict[int, Waiter] = {}
        self._by_task: dict[TaskId, dict[int, Waiter]] = {}
        self._subscribers: list[tuple[type[MarketEvent], Callable[[MarketEvent], None]]] = []
        self.tasks: dict[TaskId, TaskEntry] = {}
        self._open: dict[TaskId, TaskEntry] = {}
        """The open tasks in creation order (``open_tasks`` without a scan of every task)."""
        self._pending_params: dict[int, tuple[TaskParams, TaskSection]] = {}

    def expect_task(self, ticket: int, params: TaskParams, template: TaskSection) -> None:
        """Tell the board the parameters of the task the queued create_task ``ticket`` makes."""
        self._pending_params[ticket] = (params, template)

    def wait_for(
        self,
        kind: type[MarketEvent],
        predicate: Predicate | None = None,
        *,
        task: TaskId | None = None,
    ) -> simpy.Event:
        """A SimPy event that fires with the next matching market event.

        ``task``: the predicate holds only for events of this task (the caller's promise),
        so the waiter is tried against that task's events alone.
        """
        ev = self.env.event()
        waiter = (kind, predicate or (lambda _e: True), ev)
        self._seq += 1
        if task is None:
            self._waiters[self._seq] = waiter
        else:
            self._by_task.setdefault(task, {})[self._seq] = waiter
        return ev

    def subscribe(self, kind: type[MarketEvent], callback: Callable[[MarketEvent], None]) -> None:
        """Call ``callback`` with every future event of ``kind``."""
        self._subscribers.append((kind, callback))

    def on_block(self, block: Block) -> list[MarketEvent]:
        events = []
        for r in block.receipts:
            expected = self._pending_params.pop(r.ticket, None)
            if not r.ok:
                continue
            for e in typed_events(r):
                self._update_board(e, expected, block.timestamp)
                events.append(e)
        for e in events:
            self._dispatch(e)
        return events

    def _update_board(
        self, e: MarketEvent, expected: tuple[TaskParams, TaskSection] | None, timestamp: int
    ) -> None:
        if isinstance(e, TaskCreated):
            if expected is None:
                return  # a task created outside the simulation's agents: not on our board
            self.tasks[e.task_id] = self._open[e.task_id] = TaskEntry(e, *expected)
        entry = self.tasks.get(getattr(e, "task_id", TaskId(-1)))
        if entry is None:
            return
        if isinstance(e, CommitteeDrawn):
            entry.committee = e.members
            entry.committee_seed = int.from_bytes(e.seed[:8], "big") >> 1
            entry.drawn_at = timestamp
        elif isinstance(e, TaskFinalized):
            entry.finalized = e
            self._open.pop(e.task_id, None)
        elif isinstance(e, TaskCancelled):
            entry.cancelled = True
            self._open.pop(e.task_id, None)

    def _dispatch(self, e: MarketEvent) -> None:
        task_id: TaskId | None = getattr(e, "task_id", None)
        own = self._by_task.get(task_id) if task_id is not None else None
        groups = [self._waiters] if own is None else [self._waiters, own]
        for seq, (kind, pred, ev) in heapq.merge(*(list(g.items()) for g in groups)):
            if isinstance(e, kind) and pred(e) and not ev.triggered:
                ev.succeed(e)
            elif not ev.triggered:
                continue
            for g in groups:
                g.pop(seq, None)
        if task_id is not None and own is not None and not own:
            del self._by_task[task_id]
        for kind, callback in list(self._subscribers):
            if isinstance(e, kind):
                callback(e)

    def open_tasks(self) -> list[TaskEntry]:
        return list(self._open.values())
