"""The privacy auditor: membership-inference attacks against every published model.

Like the oracle it records at no simulated cost and no agent sees its rows; unlike the
oracle it knows nothing an outsider could not learn, except which samples to test (the
ground truth an audit needs). When a task is finalized it reads the submissions' CIDs from
the chain, fetches the files from storage as anyone can, and runs each configured attack
(``[audit]``, ``sim.learning.privacy``) against

- each published model: members are the submitting contributor's training shard,
  non-members as many held-out test samples (no agent trained on them);
- the fused model the initiator obtains (accepted tasks, ``audit.fused``): the head fused
  from the paid models with the initiator's own seed; members are drawn from the paid
  contributors' shards together.

Each result is recorded as ``membership_audit`` rows, one per measure: ``agent`` the
audited contributor (the initiator for its fused model), ``task``, ``cid`` (the model's;
empty for the fused model), ``target`` the attack, ``detail`` the measure (``auc``,
``tpr_at_1pct``, ``tpr_at_01pct``, ``candidates``: members, as many as non-members),
``value`` its value. The reference models of the offline LiRA are trained once per run
(through the training cache) on samples of the verification set.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from contracts.taskmarket import MarketEvent, TaskFinalized
from contracts.units import Address, Cid, TaskId
from sim.errors import ModelRejected
from sim.recorder import Kind
from sim.world import World

if TYPE_CHECKING:
    import torch

    from sim.learning.models import Net
    from sim.learning.privacy import AttackResult

MEASURES = ("auc", "tpr_at_1pct", "tpr_at_01pct")
"""The measures of each attack, in the order they are recorded (then ``candidates``)."""


class Auditor:
    """Runs the scenario's membership-inference audits when tasks are finalized."""

    def __init__(self, world: World):
        self.world = world
        self.config = world.scenario.audit
        self._references: list[Net] | None = None
        world.watcher.subscribe(MarketEvent, self._on_event)

    def _on_event(self, e: MarketEvent) -> None:
        if isinstance(e, TaskFinalized):
            self.audit(e.task_id)

    def references(self) -> list[Net]:
        """The offline LiRA's reference models (none when it is not among the attacks)."""
        if self._references is None:
            config = self.config
            self._references = (
                self.world.learning.reference_models(
                    config.reference_models,
                    config.reference_size,
                    self.world.integer_seed("audit", "references") % 2**31,
                )
                if "lira_offline" in config.attacks
                else []
            )
        return self._references

    def audit(self, task_id: TaskId) -> None:
        world = self.world
        learning = world.learning
        subs = world.market.submissions(task_id)
        files = world.stored_files([s.cid for s in subs])
        for s, data in zip(subs, files, strict=True):
            name = world.name_of(s.contributor)
            if data is None or name is None:
                continue
            try:
                model = learning.load(data)
            except ModelRejected:
                continue
            members = learning.shard_of(_index(name)).train
            self._record(task_id, name, s.cid, self._attack(model, members))
        entry = world.watcher.tasks.get(task_id)
        if (
            self.config.fused
            and entry is not None
            and world.market.has_access(task_id, entry.created.initiator)
        ):
            self._audit_fused(task_id, entry.created.initiator)

    def _audit_fused(self, task_id: TaskId, initiator: Address) -> None:
        world = self.world
        learning = world.learning
        market = world.market
        paid = set(market.accepted_cids(task_id, initiator))
        subs = [s for s in market.submissions(task_id) if s.cid in paid]
        blobs = [b for b in world.stored_files([s.cid for s in subs]) if b is not None]
        fused = learning.fused_model(blobs, world.integer_seed("access", task_id))
        if fused is None:
            return
        names = [world.name_of(s.contributor) for s in subs]
        indices = sorted({_index(n) for n in names if n is not None})
        pool = np.unique(np.concatenate([learning.shard_of(i).train for i in indices]))
        members = world.rng("audit", "fused", task_id).permutation(pool)
        label = world.directory.label(initiator)
        self._record(task_id, label, None, self._attack(fused, members))

    def _attack(self, model: torch.nn.Module, members: np.ndarray) -> list[AttackResult]:
        config = self.config
        return self.world.learning.membership_audit(
            model, members, config.attacks, self.references(), config.candidates
        )

    def _record(
        self, task_id: TaskId, agent: str, cid: Cid | None, results: list[AttackResult]
    ) -> None:
        for r in results:
            values = (r.auc, r.tpr_at_1pct, r.tpr_at_01pct, float(r.members))
            for measure, value in zip((*MEASURES, "candidates"), values, strict=True):
                self.world.recorder.record(
                    Kind.MEMBERSHIP_AUDIT,
                    agent,
                    task=task_id,
                    cid=cid,
                    target=r.attack,
                    detail=measure,
                    value=value,
                )


def _index(name: str) -> int:
    """The index of the agent ``name`` ("contributor-3" → 3)."""
    return int(name.rsplit("-", 1)[1])
