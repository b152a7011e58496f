"""The learning tables load through sim.config.build with keyed, explained errors."""

from __future__ import annotations

import pytest

from sim.config import build, to_table
from sim.errors import ConfigError
from sim.learning.config import (
    ContributionConfig,
    DataConfig,
    FusionConfig,
    ModelConfig,
    TrainConfig,
)


def test_tables_build_frozen_configs() -> None:
    data = build(DataConfig, {"dataset": "mnist", "shard_size": [10, 20], "partition": "dirichlet"})
    assert data.shard_size == (10, 20) and data.partition == "dirichlet"
    assert build(DataConfig, {"shard_size": 50}).shard_size == 50
    assert build(ModelConfig, {"architecture": "mlp", "hidden": [64, 32]}).hidden == (64, 32)
    assert build(FusionConfig, {"strategy": "I", "lr": 1}).lr == 1.0
    for cls in (DataConfig, ModelConfig, TrainConfig, FusionConfig, ContributionConfig):
        default = cls()
        assert build(cls, to_table(default)) == default


@pytest.mark.parametrize(
    ("cls", "table", "expected"),
    [
        (DataConfig, {"dataset": "cifar"}, "data.dataset: expected one of"),
        (DataConfig, {"local_validation_fraction": 1.0}, "data.local_validation_fraction"),
        (DataConfig, {"shard_size": [5, 1]}, r"data.shard_size\[1\]: expected an integer >= 2"),
        (ModelConfig, {"channels": [8]}, "model.channels: expected two widths"),
        (TrainConfig, {"epochs": -1}, "training.epochs"),
        (TrainConfig, {"device": "tpu"}, "training.device: expected one of"),
        (FusionConfig, {"strategy": "III"}, "fusion.strategy"),
        (FusionConfig, {"holdout_fraction": 0.0}, "fusion.holdout_fraction"),
        (ContributionConfig, {"method": "banzhaf"}, "contribution.method"),
        (ContributionConfig, {"shapley_confidence": 1.0}, "contribution.shapley_confidence"),
        (FusionConfig, {"epoch": 3}, "unknown key 'fusion.epoch'"),
    ],
)
def test_bad_values_name_the_key(cls: type, table: dict, expected: str) -> None:
    path = {
        DataConfig: "data", ModelConfig: "model", TrainConfig: "training",
        FusionConfig: "fusion", ContributionConfig: "contribution",
    }[cls]  # fmt: skip
    with pytest.raises(ConfigError, match=expected) as info:
        build(cls, table, where="s.toml", path=path)
    assert str(info.value).startswith("s.toml: ")
