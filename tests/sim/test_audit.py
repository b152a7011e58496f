"""Privacy in a run: spent ε per DP model, membership audits per model and fused model."""

from __future__ import annotations

import math

import pytest

import sim
from sim.errors import ConfigError
from sim.runner import resolve

SMALL = [
    "model.architecture='mlp'",
    "model.hidden=[32]",
    "training.epochs=3",
    "data.shard_size=200",
    "data.verification_size=400",
    "data.test_size=400",
    "contribution.method='individual'",
    "population.contributors=3",
    "tasks[0].mafr=0.5",
]
AUDIT = [
    "audit.enabled=true",
    "audit.reference_models=2",
    "audit.reference_size=200",
    "audit.candidates=100",
]


def test_private_contributors_and_audits_are_recorded() -> None:
    result = sim.run(
        "scenarios/quick.toml",
        seed=0,
        overrides=[
            *SMALL,
            *AUDIT,
            "population.contributor_behaviours={private=2}",
            "behaviours.private.epsilon=2.0",
        ],
    )
    events, summary = result.events, result.summary
    spent = events[events["kind"] == "privacy_spent"]
    assert sorted(spent["behaviour"]) == ["private", "private"]
    # Opacus calibrates the noise so that the accountant's ε is at most the target, close
    assert all(1.5 < v <= 2.0 + 1e-6 for v in spent["value"])
    assert summary["epsilon_spent"] == pytest.approx(spent["value"].mean())
    audits = events[events["kind"] == "membership_audit"]
    models = audits[audits["role"] == "contributor"]
    assert len(models) == 3 * 2 * 4  # 3 models × 2 attacks × 4 measures
    assert set(models["target"]) == {"loss", "lira_offline"}
    assert (models[models["detail"] == "candidates"]["value"] == 100).all()
    accepted = bool(events[events["kind"] == "task_finalized"]["ok"].iloc[0])
    assert len(audits[audits["role"] == "initiator"]) == (8 if accepted else 0)
    for name in ("mia_auc_loss", "mia_auc_lira", "mia_tpr_at_1pct_max", "mia_tpr_at_01pct_max"):
        assert 0.0 <= summary[name] <= 1.0, name
    if accepted:
        assert 0.0 <= summary["mia_auc_fused_loss"] <= 1.0
    assert len(summary["membership_audits"]) == 6 + (2 if accepted else 0)
    assert len(summary["privacy_spent"]) == 2


def test_without_privacy_nothing_is_recorded_and_the_hash_is_kept() -> None:
    base = resolve("scenarios/quick.toml")
    assert resolve("scenarios/quick.toml", ["audit.enabled=false"]).digest == base.digest
    assert resolve("scenarios/quick.toml", ["audit.enabled=true"]).digest != base.digest
    result = sim.run("scenarios/quick.toml", seed=0, overrides=SMALL)
    kinds = set(result.events["kind"])
    assert not kinds & {"privacy_spent", "membership_audit"}
    assert math.isnan(result.summary["epsilon_spent"])
    assert math.isnan(result.summary["mia_auc_loss"])
    assert result.summary["membership_audits"] == []


@pytest.mark.parametrize(
    ("override", "words"),
    [
        ("audit.attacks=['nope']", "audit.attacks"),
        ("audit.reference_size=5000", "audit.reference_size"),
        ("audit.reference_models=1", "audit.reference_models"),
        ("behaviours.private.epsilon=0", "epsilon"),
        ("behaviours.private.delta=1.0", "delta"),
        ("behaviours.private.batch_size=0", "behaviours.private.batch_size"),
        ("behaviours.private.epochs=0", "behaviours.private.epochs"),
        ("behaviours.private.lr=-0.1", "behaviours.private.lr"),
        ("behaviours.private.optimizer='rmsprop'", "behaviours.private.optimizer"),
        ("behaviours.private.momentum=1.5", "behaviours.private.momentum"),
    ],
)
def test_bad_audit_and_private_settings_get_one_message(override: str, words: str) -> None:
    with pytest.raises(ConfigError, match=words):
        resolve("scenarios/quick.toml", ["audit.enabled=true", override])


def test_the_audited_fused_model_is_the_one_the_initiator_obtains() -> None:
    """The auditor rebuilds the initiator's head (same rows, start and order): the same
    held-out accuracy as ``initiator_model`` reports."""
    import torch

    from sim.learning_service import LearningService
    from sim.rng import RngStreams

    scenario = resolve("scenarios/quick.toml", SMALL)
    learning = LearningService(scenario, RngStreams(0))
    blobs = [learning.train(i, 7 + i).weights for i in range(3)]
    outcome = learning.initiator_model(blobs, 11)
    fused = learning.fused_model(blobs, 11)
    assert fused is not None
    test = learning.labelled("test")
    with torch.inference_mode():
        accuracy = (fused(test.x).argmax(dim=1) == test.y).float().mean().item()
    assert accuracy == pytest.approx(outcome.accuracy, abs=1e-6)


def test_unset_dp_training_settings_leave_the_scenario_hash() -> None:
    """The private kind's DP training keys, unset, are left out of the hash (a scenario keeps
    the hash and run ids it had before they existed); set, each one counts."""
    import hashlib
    import json

    from sim.config import to_table
    from sim.learning.config import DP_TRAINING_KEYS

    base = resolve("scenarios/quick.toml")
    table = to_table(base)
    private = table["behaviours"]["private"]
    assert all(private.pop(k) is None for k in DP_TRAINING_KEYS)
    del table["run"]["seeds"], table["chain"]["engine"], table["adaptation"], table["audit"]
    # the large-population, settlement and structured-fusion keys at their defaults are left
    # out too (issue 15)
    del table["population"]["offers"], table["data"]["shards"], table["fusion"]["structured"]
    for task in table["tasks"]:
        del task["verifier_participation"], task["settlement"]
    before = json.dumps(table, sort_keys=True, default=str, allow_nan=True)
    assert base.digest == hashlib.sha256(before.encode()).hexdigest()
    digests = {
        resolve("scenarios/quick.toml", [override]).digest
        for override in ("behaviours.private.epochs=20", "behaviours.private.optimizer='sgd'")
    }
    assert len(digests) == 2 and base.digest not in digests
