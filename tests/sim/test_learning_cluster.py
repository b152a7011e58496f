"""A run's learning work on Dask (``baasim run --scheduler``: training and evaluations) and
batched training in a run: the same event table as one-at-a-time training here."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from sim.cli import main
from sim.cli.run import learning_executor
from sim.errors import ConfigError
from sim.runner import run

TINY = Path(__file__).resolve().parents[1] / "data" / "tiny.toml"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A client of a LocalCluster of 2 worker processes on loopback, whose workers keep
    their caches in a directory of their own (they inherit ``BAASIM_CACHE`` at start)."""
    from distributed import Client, LocalCluster

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("BAASIM_CACHE", str(tmp_path_factory.mktemp("worker-cache")))
        cluster = LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
            scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},
            silence_logs=logging.ERROR,
        )
    with cluster, Client(cluster) as c:
        yield c


@pytest.mark.parametrize("batched", [False, True])
def test_a_run_on_dask_is_the_run_here(
    client: Any, batched: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Cold caches on both sides: the workers train every model."""
    from distributed import get_task_stream

    overrides = [f"training.batched={str(batched).lower()}"]
    monkeypatch.setenv("BAASIM_CACHE", str(tmp_path / "here"))
    with get_task_stream(client) as stream:
        remote = run(TINY, 0, overrides=overrides, learning_executor=client.get_executor())
    trained_remotely = [t for t in stream.data if "train_remote" in str(t["key"])]
    assert len(trained_remotely) == (1 if batched else 3)  # one batch, or one per contributor
    # announced at the draw and when the data arrives: the committee's evaluation and the
    # oracle's (by the task's method on the verification set, and its ruler on the test set)
    evaluated_remotely = [t for t in stream.data if "evaluate_remote" in str(t["key"])]
    assert len(evaluated_remotely) == 2
    assert remote.summary["status"] == "completed"
    # trained in the workers' cache, and kept in this process's for a second ask
    assert len(list((tmp_path / "here" / "models").rglob("*.safetensors"))) == 3
    monkeypatch.setenv("BAASIM_CACHE", str(tmp_path / "local"))
    local = run(TINY, 0, overrides=overrides)
    assert local.summary["status"] == "completed"
    pd.testing.assert_frame_equal(remote.events, local.events)


def test_batched_training_in_a_run_keys_its_models_apart(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The three contributors join at once and are trained as one batch, cached under
    batched keys; the run completes with the same structure of events."""
    monkeypatch.setenv("BAASIM_CACHE", str(tmp_path))
    batched = run(TINY, 0, overrides=["training.batched=true"])
    models = {p.stem for p in (tmp_path / "models").rglob("*.safetensors")}
    assert len(models) == 3
    plain = run(TINY, 0)
    assert len({p.stem for p in (tmp_path / "models").rglob("*.safetensors")}) == 6
    kinds = ["kind", "agent"]
    pd.testing.assert_frame_equal(batched.events[kinds], plain.events[kinds])
    trained = batched.events[batched.events["kind"] == "model_trained"]
    assert (trained["value"] > 0.5).all()


def test_run_scheduler_values_are_checked(capsys: Any) -> None:
    with contextlib.ExitStack() as stack:
        with pytest.raises(ConfigError, match="--scheduler: expected 'local' or a scheduler"):
            learning_executor("somewhere", 2, stack)
        with pytest.raises(ConfigError, match="--workers: expected an integer >= 1"):
            learning_executor("local", 0, stack)
    assert main(["run", str(TINY), "--scheduler", "elsewhere", "--quiet"]) == 2
    assert "--scheduler: expected 'local'" in capsys.readouterr().err
