"""Privacy, measured: membership inference and DP-SGD on real MNIST digits.

Constructions with known answers: a deliberately overfit model (many epochs on a small
shard) leaks membership, so both attacks do clearly better than chance on every seed; a
model trained with strong DP (ε = 1) leaks almost nothing, so the loss attack stays near
chance; Opacus spends the ε it was asked to. Margins: with 200 members and 200 non-members
the AUC of a useless attack has a standard error of about 0.03, so 0.5 ± 0.1 is over three
standard errors wide, and the overfit models measured here give 0.70-0.82.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from sim.errors import ConfigError
from sim.learning.config import ModelConfig, PrivacyConfig, TrainConfig
from sim.learning.datasets import Dataset
from sim.learning.models import Net
from sim.learning.privacy import lira_offline, loss_attack, roc
from sim.learning.safety import load_model
from sim.learning.training import TrainedModel, TrainRequest, gather, train
from sim.scenario import load_scenario, with_values

MLP = ModelConfig(architecture="mlp", hidden=(128,))
OVERFIT = TrainConfig(epochs=60, batch_size=32, lr=1e-3, device="cpu")
DP = PrivacyConfig(epsilon=1.0, delta=1e-5, max_grad_norm=1.0)
PRIVATE = TrainConfig(epochs=20, batch_size=32, lr=1e-2, device="cpu", privacy=DP)
SEEDS = (0, 1, 2)

Split = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]


def split(dataset: Dataset, seed: int) -> Split:
    """Members (the shard), non-members, validation, and the attacker's public pool."""
    perm = np.random.default_rng(seed).permutation(len(dataset))
    return perm[:200], perm[200:400], perm[400:500], perm[500:]


def trained(dataset: Dataset, seed: int, config: TrainConfig) -> tuple[TrainedModel, Net]:
    members, _, val, _ = split(dataset, seed)
    result = train(TrainRequest(dataset.fingerprint, members, val, MLP, config, seed), dataset)
    return result, load_model(result.weights, MLP)


def sets(dataset: Dataset, seed: int) -> tuple[tuple[torch.Tensor, torch.Tensor], ...]:
    members, non_members, _, _ = split(dataset, seed)
    cpu = torch.device("cpu")
    return gather(dataset, members, cpu), gather(dataset, non_members, cpu)


def test_roc_on_scores_whose_answer_is_known() -> None:
    assert roc(np.array([3.0, 4.0]), np.array([1.0, 2.0])) == (1.0, 1.0, 1.0)
    assert roc(np.array([1.0, 2.0]), np.array([3.0, 4.0]))[0] == 0.0
    assert roc(np.ones(5), np.ones(7))[0] == 0.5  # ties count half
    auc, tpr1, _ = roc(np.array([0.5, 2.0, 3.0]), np.array([1.0, 0.0, -1.0, -2.0]))
    assert auc == pytest.approx(11 / 12)  # 11 of the 12 (member, non-member) pairs ordered
    assert tpr1 == pytest.approx(2 / 3)  # at 0 false positives: above the largest non-member


@pytest.mark.slow
def test_an_overfit_model_leaks_membership_on_every_seed(mnist5k: Dataset) -> None:
    for seed in SEEDS:
        _, target = trained(mnist5k, seed, OVERFIT)
        members, non_members = sets(mnist5k, seed)
        assert loss_attack(target, members, non_members).auc > 0.62, seed


@pytest.mark.slow
def test_offline_lira_beats_the_loss_attack_on_an_overfit_model(mnist5k: Dataset) -> None:
    _, target = trained(mnist5k, 1, OVERFIT)
    members, non_members = sets(mnist5k, 1)
    _, _, val, public = split(mnist5k, 1)
    references = []
    for k in range(4):  # the attacker's own models, on public data of the same distribution
        subset = np.random.default_rng([1, k]).choice(public, 200, replace=False)
        request = TrainRequest(mnist5k.fingerprint, subset, val, MLP, OVERFIT, 1000 + k)
        references.append(load_model(train(request, mnist5k).weights, MLP))
    lira = lira_offline(target, references, members, non_members)
    loss = loss_attack(target, members, non_members)
    assert lira.auc > 0.7 and lira.auc > loss.auc
    assert lira.tpr_at_1pct > loss.tpr_at_1pct  # its strength is at low false-positive rates
    assert (lira.members, lira.non_members) == (200, 200)


@pytest.mark.slow
def test_strong_dp_leaves_the_attack_near_chance_and_spends_its_epsilon(
    mnist5k: Dataset,
) -> None:
    for seed in SEEDS:
        result, target = trained(mnist5k, seed, PRIVATE)
        members, non_members = sets(mnist5k, seed)
        assert abs(loss_attack(target, members, non_members).auc - 0.5) < 0.1, seed
        assert result.epsilon is not None
        assert result.epsilon == pytest.approx(DP.epsilon, rel=0.05)  # Opacus's RDP accountant


@pytest.mark.slow
def test_dp_training_is_deterministic_and_keyed_by_its_settings(mnist5k: Dataset) -> None:
    config = TrainConfig(epochs=2, batch_size=32, lr=1e-2, device="cpu", privacy=DP)
    first, _ = trained(mnist5k, 5, config)
    again, _ = trained(mnist5k, 5, config)
    assert first.weights == again.weights
    members, _, val, _ = split(mnist5k, 5)
    plain = TrainConfig(epochs=2, batch_size=32, lr=1e-2, device="cpu")
    looser = TrainConfig(
        epochs=2, batch_size=32, lr=1e-2, device="cpu",
        privacy=PrivacyConfig(epsilon=8.0, delta=1e-5, max_grad_norm=1.0),
    )  # fmt: skip
    tuned = TrainConfig(
        epochs=2, batch_size=32, lr=1e-2, device="cpu",
        privacy=dataclasses.replace(DP, batch_size=64, optimizer="sgd"),
    )  # fmt: skip
    keys = {
        TrainRequest(mnist5k.fingerprint, members, val, MLP, c, 5).key(torch.device("cpu"))
        for c in (config, plain, looser, tuned)
    }
    assert len(keys) == 4


def test_dp_training_settings_replace_the_ordinary_ones_only_when_set() -> None:
    base = TrainConfig(epochs=8, batch_size=64, lr=2e-3, optimizer="adam", momentum=0.5)
    assert DP.training(base) == dataclasses.replace(base, privacy=DP)  # nothing set: [training]
    tuned = dataclasses.replace(DP, epochs=30, batch_size=240, lr=0.05, optimizer="sgd")
    applied = tuned.training(base)
    assert (applied.epochs, applied.batch_size, applied.lr) == (30, 240, 0.05)
    assert (applied.optimizer, applied.momentum, applied.privacy) == ("sgd", 0.5, tuned)


@pytest.mark.slow
def test_dp_training_uses_its_own_epochs(mnist5k: Dataset) -> None:
    config = dataclasses.replace(PRIVATE, privacy=dataclasses.replace(DP, epochs=3))
    result, _ = trained(mnist5k, 6, config)
    assert result.samples_processed == 200 * 3  # the shard × the DP epochs, not [training]'s


@pytest.mark.parametrize(
    ("value", "key"),
    [
        ({"epsilon": 0.0, "max_grad_norm": 1.0}, "training.privacy.epsilon"),
        ({"epsilon": 1.0, "delta": 1.0, "max_grad_norm": 1.0}, "training.privacy.delta"),
        ({"epsilon": 1.0, "delta": 0.0, "max_grad_norm": 1.0}, "training.privacy.delta"),
        ({"epsilon": 1.0}, "training.privacy.max_grad_norm"),
        ({"mechanism": "pate", "epsilon": 1.0, "max_grad_norm": 1.0}, "training.privacy.mechanism"),
        ({"epsilon": 1.0, "max_grad_norm": 1.0, "batch_size": 0}, "training.privacy.batch_size"),
        ({"epsilon": 1.0, "max_grad_norm": 1.0, "epochs": 0}, "training.privacy.epochs"),
        ({"epsilon": 1.0, "max_grad_norm": 1.0, "lr": 0.0}, "training.privacy.lr"),
        ({"epsilon": 1.0, "max_grad_norm": 1.0, "optimizer": "rms"}, "training.privacy.optimizer"),
        ({"epsilon": 1.0, "max_grad_norm": 1.0, "momentum": 2.0}, "training.privacy.momentum"),
    ],
)
def test_bad_privacy_settings_get_one_message_naming_the_key(
    value: dict[str, object], key: str
) -> None:
    base = load_scenario("tests/data/tiny.toml")
    with pytest.raises(ConfigError) as err:
        with_values(base, {"training.privacy": value}, where="s.toml")
    assert key in str(err.value)


def test_a_private_scenario_loads() -> None:
    base = load_scenario("tests/data/tiny.toml")
    private = with_values(
        base, {"training.privacy": {"epsilon": 2.0, "max_grad_norm": 1.0}}, where="s.toml"
    )
    assert private.training.privacy == PrivacyConfig(epsilon=2.0, max_grad_norm=1.0)
    assert private.digest != base.digest
