"""Training and evaluation on another process or machine (a Dask worker), with the same
results as here.

``train_remote`` and ``evaluate_remote`` are what a run submits to a
``concurrent.futures.Executor`` (a Dask client's ``get_executor()``) when its learning work
runs on a cluster: each loads the data set by name (once per worker process), does the work
(training through the worker's training cache; an evaluation of model files, loaded there
with the same safe loader, with one feature cache per worker process) and returns the
result. Both are pure functions of their inputs and the numeric environment, so the worker
first takes the submitting process's torch thread count and checks that it computes the very
cache keys the submitter computed (same torch version, device type and threads): otherwise
its floats could differ in the last bits and the run would not be the one a local run gives,
so it refuses (``DataError``) instead.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from sim.errors import DataError
from sim.learning.config import ContributionConfig, FusionConfig, ModelConfig
from sim.learning.datasets import Dataset, load_dataset
from sim.learning.device import numeric_environment, resolve_device, torch_threads
from sim.learning.evaluation import Evaluation
from sim.learning.features import FeatureCache, LabelledData
from sim.learning.training import TrainedModel, TrainingCache, TrainRequest


@dataclass(frozen=True)
class RemoteBatch:
    """What a worker needs to reproduce the submitter's training of ``requests``."""

    requests: tuple[TrainRequest, ...]
    keys: tuple[str, ...]
    """Each request's key as the submitter computed it."""
    dataset: str
    data_dir: str | None
    threads: int
    """The submitter's torch CPU threads (they change the last bits of the weights)."""


def train_remote(batch: RemoteBatch) -> list[TrainedModel]:
    """Train ``batch`` here exactly as its submitter would have (see the module docstring)."""
    from sim.learning.batched import train_many

    dataset = _dataset(batch.dataset, batch.data_dir)
    with torch_threads(batch.threads):
        for request, key in zip(batch.requests, batch.keys, strict=True):
            device = resolve_device(request.training.device)
            if request.key(device) != key:
                raise DataError(
                    "a learning worker computes in another numeric environment than the run "
                    f"({numeric_environment(device)}); give workers the run's torch version "
                    "and device"
                )
        return train_many(batch.requests, dataset, TrainingCache())


@dataclass(frozen=True)
class EvaluationJob:
    """What a worker needs to reproduce the submitter's evaluation of model files."""

    files: tuple[bytes, ...]
    """The fused models' files (safetensors), in the evaluation's order."""
    model: ModelConfig
    verification: np.ndarray
    """Sample indices of the verification set (the test set's below, or None)."""
    test: np.ndarray | None
    fusion: FusionConfig
    contribution: ContributionConfig
    seed: int
    key: str
    """The evaluation's cache key as the submitter computed it."""
    dataset: str
    data_dir: str | None
    threads: int


def evaluate_remote(job: EvaluationJob) -> Evaluation:
    """Evaluate ``job`` here exactly as its submitter would have (see the module docstring)."""
    from sim.learning.evaluation import evaluate_submissions
    from sim.learning.evaluation_cache import evaluation_key
    from sim.learning.safety import load_model

    dataset = _dataset(job.dataset, job.data_dir)
    with torch_threads(job.threads):
        models = [load_model(f, job.model, dataset.n_classes) for f in job.files]
        verification = LabelledData.from_indices(dataset, job.verification)
        test = None if job.test is None else LabelledData.from_indices(dataset, job.test)
        key = evaluation_key(models, verification, job.fusion, job.contribution, job.seed, test)
        if key != job.key:
            raise DataError(
                "a learning worker computes in another numeric environment than the run "
                f"({numeric_environment(resolve_device(job.fusion.device))}); give workers "
                "the run's torch version and device"
            )
        return evaluate_submissions(
            models,
            verification,
            job.fusion,
            job.contribution,
            job.seed,
            test=test,
            features=_features(),
        )


@functools.lru_cache(maxsize=1)
def _features() -> FeatureCache:
    """The worker process's feature cache: models seen by several evaluations (the
    committee's and the oracle's) run through their networks once."""
    return FeatureCache()


@functools.lru_cache(maxsize=4)
def _dataset(name: str, data_dir: str | None) -> Dataset:
    return load_dataset(name, data_dir)


def batch_of(
    requests: Sequence[TrainRequest], dataset: str, data_dir: str | None, threads: int
) -> RemoteBatch:
    """The ``RemoteBatch`` of ``requests`` with this process's keys."""
    keys = tuple(r.key(resolve_device(r.training.device)) for r in requests)
    return RemoteBatch(tuple(requests), keys, dataset, data_dir, threads)
