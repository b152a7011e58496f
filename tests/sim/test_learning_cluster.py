"""A run's learning work on Dask (``baasim run --scheduler``: training and evaluations) and
batched training in a run: the same event table as one-at-a-time training here."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from sim.cli import main
from sim.cli.run import learning_executor
from sim.errors import ConfigError
from sim.runner import run
from sim.sweep.cluster import dask_client

TINY = Path(__file__).resolve().parents[1] / "data" / "tiny.toml"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A client of the LocalCluster ``--scheduler local --workers 2`` starts (2 worker
    processes on loopback), whose workers keep their caches in a directory of their own (they
    inherit ``BAASIM_CACHE`` at start). torch is imported first, as in any process that has
    trained before: its CPU thread count is fixed from then on."""
    import torch

    torch.get_num_threads()
    with contextlib.ExitStack() as stack:
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("BAASIM_CACHE", str(tmp_path_factory.mktemp("worker-cache")))
            c = dask_client(None, 2, stack)
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


def test_starting_a_local_cluster_leaves_this_process_environment_as_it_was(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Dask's nanny writes its pre-spawn environment (``OMP_NUM_THREADS=1``, malloc settings)
    into the ``os.environ`` of the process that starts the cluster; baasim puts it back."""
    import dask
    import distributed  # noqa: F401  (loads its configuration, distributed.yaml)

    for key in dask.config.get("distributed.nanny.pre-spawn-environ"):
        monkeypatch.delenv(key, raising=False)  # unset, so that the nanny's values would show
    before = dict(os.environ)
    with contextlib.ExitStack() as stack:
        dask_client(None, 1, stack)
        assert dict(os.environ) == before
    assert dict(os.environ) == before


def test_a_fresh_process_started_after_the_cluster_gives_the_run_here(
    client: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Same seed, same table, in this process and in a fresh ``baasim run`` it starts once its
    LocalCluster is up. (The nanny's ``OMP_NUM_THREADS=1``, left in this process's
    environment, gave the fresh process one torch thread: other last bits in the weights,
    other model CIDs.)"""
    monkeypatch.setenv("BAASIM_CACHE", str(tmp_path / "cache"))
    here = run(TINY, 0, out=tmp_path / "here")
    fresh = tmp_path / "fresh"
    cmd = [sys.executable, "-m", "sim", "run", str(TINY), "--seed", "0", "--out", str(fresh)]
    subprocess.run([*cmd, "--quiet"], check=True, capture_output=True)
    pd.testing.assert_frame_equal(pd.read_parquet(fresh / "events.parquet"), here.events)
